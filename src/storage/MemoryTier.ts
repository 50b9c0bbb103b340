import { Effect, Layer } from "effect"
import { Storage, type StorageShape } from "./Storage.ts"

export interface MemoryTierOptions {
  /** Bytes of blobs kept, at most. */
  readonly maxBytes: number
  /** A blob larger than this is never kept: one big object would push out many small hits. */
  readonly maxBlob: number
  /** How often a blob served from memory is read through once more, so the backend's LRU clock sees it used. */
  readonly refreshMs: number
}

/**
 * Small on purpose: blobs, and what `decodedOnce` decoded from them (a few times their size), live
 * outside V8's heap, and every compiler the daemon forks pays for the daemon's memory outside it
 * (measured here: about 0.4 ms per MiB on each spawn, on a VM). The entries and manifests of a
 * thousand small objects fit in 4 MiB.
 */
export const MEMORY_TIER: MemoryTierOptions = { maxBytes: 4 * 1024 * 1024, maxBlob: 512 * 1024, refreshMs: 10 * 60 * 1000 }

interface Held {
  readonly blob: Uint8Array
  /** When the backend last saw this key used (our read or write of it). */
  touched: number
}

/** The least recently used blobs within a byte budget (a Map iterates in insertion order: oldest first). */
export const makeLru = (maxBytes: number) => {
  const items = new Map<string, Held>()
  let bytes = 0
  const remove = (key: string) => {
    const old = items.get(key)
    if (old === undefined) return
    items.delete(key)
    bytes -= old.blob.length
  }
  return {
    get: (key: string): Held | undefined => {
      const held = items.get(key)
      if (held === undefined) return undefined
      items.delete(key)
      items.set(key, held)
      return held
    },
    set: (key: string, blob: Uint8Array, now: number) => {
      remove(key)
      if (blob.length > maxBytes) return
      items.set(key, { blob, touched: now })
      bytes += blob.length
      for (const oldest of items.keys()) {
        if (bytes <= maxBytes) break
        remove(oldest)
      }
    },
    get bytes() {
      return bytes
    },
    get size() {
      return items.size
    }
  }
}

/**
 * Recent blobs (entries and manifests) in memory in front of a Storage, written through: a repeat
 * hit reads nothing from the backend, and returns the very same blob, so what `decodedOnce`
 * decoded from it is reused too. Keys are digests of their content's inputs, so a kept entry never
 * goes stale; a manifest another daemon rewrote on a shared disk is at worst missing its new
 * candidates until this one is pushed out (a miss, never a wrong hit: candidates are checked).
 */
export const withMemoryTier = (inner: StorageShape, opts: MemoryTierOptions = MEMORY_TIER) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const lru = makeLru(opts.maxBytes)
    const keep = (key: string, blob: Uint8Array) => {
      if (blob.length <= opts.maxBlob) lru.set(key, blob, Date.now())
    }
    return Storage.of({
      ...inner,
      get: (key) =>
        Effect.suspend(() => {
          const held = lru.get(key)
          if (held === undefined) {
            return inner.get(key).pipe(Effect.tap((blob) => Effect.sync(() => blob !== undefined && keep(key, blob))))
          }
          const now = Date.now()
          if (now - held.touched < opts.refreshMs) return Effect.succeed(held.blob)
          held.touched = now
          return inner.get(key).pipe(Effect.ignore, Effect.forkIn(scope), Effect.as(held.blob))
        }),
      put: (key, blob) => inner.put(key, blob).pipe(Effect.tap(() => Effect.sync(() => keep(key, blob))))
    })
  })

/** The Storage below, with a memory tier in front. */
export const MemoryTier = {
  layer: (opts: MemoryTierOptions = MEMORY_TIER) =>
    Layer.effect(Storage, Effect.gen(function*() {
      return yield* withMemoryTier(yield* Storage, opts)
    }))
}

/**
 * `decode`, once per blob object: with the memory tier handing out the same blob on every hit, a
 * repeat hit skips decompressing and checksumming. A failure (an Error, or undefined) is not
 * kept: it is counted every time.
 */
export const decodedOnce = <R>(decode: (key: string, blob: Uint8Array) => Promise<R>) => {
  // By key too: an entry decodes only under the key inside it, and a blob held for one key must
  // not vouch for another.
  const done = new WeakMap<Uint8Array, { readonly key: string; readonly value: R }>()
  return async (key: string, blob: Uint8Array): Promise<R> => {
    const known = done.get(blob)
    if (known !== undefined && known.key === key) return known.value
    const r = await decode(key, blob)
    if (r !== undefined && !(r instanceof Error)) done.set(blob, { key, value: r })
    return r
  }
}
