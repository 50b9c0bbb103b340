import { Effect, Layer } from "effect"
import { Storage } from "./Storage.ts"

/** An in-memory Storage for property tests of cache behaviour; never a stand-in for a real backend. */
export const makeMemoryStorage = (blobs: Map<string, Uint8Array> = new Map()) =>
  Storage.of({
    location: "Memory",
    get: (key) => Effect.sync(() => blobs.get(key)),
    put: (key, blob) => Effect.sync(() => void blobs.set(key, blob)),
    check: Effect.succeed("read-write"),
    size: Effect.sync(() => ({ current: [...blobs.values()].reduce((n, b) => n + b.length, 0) }))
  })

export const MemoryStorageLayer = (blobs?: Map<string, Uint8Array>) => Layer.sync(Storage, () => makeMemoryStorage(blobs))
