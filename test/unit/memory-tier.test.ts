/**
 * The memory tier in front of storage: what it keeps (within its byte budget, least recently used
 * out first), that it serves the very same blob again without asking the backend, that it never
 * keeps what the backend refused, and that a decoded blob is decoded once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { expect } from "vitest"
import { makeDiskStorage } from "../../src/storage/DiskStorage.ts"
import { makeMemoryStorage } from "../../src/storage/MemoryStorage.ts"
import { decodedOnce, makeLru, withMemoryTier } from "../../src/storage/MemoryTier.ts"
import { Storage, StorageError } from "../../src/storage/Storage.ts"

const KEY = (i: number) => i.toString(16).padStart(64, "0")
const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill)

/** A backend that counts its reads. */
const counted = () => {
  const blobs = new Map<string, Uint8Array>()
  const inner = makeMemoryStorage(blobs)
  let gets = 0
  return {
    blobs,
    gets: () => gets,
    storage: Storage.of({ ...inner, get: (k) => Effect.suspend(() => (gets++, inner.get(k))) })
  }
}

const opts = { maxBytes: 1000, maxBlob: 400, refreshMs: 60_000 }

describe("makeLru", () => {
  it.prop("never holds more than its budget, and keeps the most recent blobs that fit", [
    Schema.Array(Schema.Tuple([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 9 })), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 600 })), Schema.Boolean]))
  ], ([ops]) => {
    const lru = makeLru(1000)
    const model: Array<[string, number]> = [] // most recent last
    for (const [k, size, read] of ops) {
      const key = String(k)
      if (read) {
        const held = lru.get(key)
        const at = model.findIndex(([m]) => m === key)
        expect(held?.blob.length).toBe(at === -1 ? undefined : model[at]![1])
        if (at !== -1) model.push(...model.splice(at, 1))
      } else {
        lru.set(key, bytes(size), 0)
        const at = model.findIndex(([m]) => m === key)
        if (at !== -1) model.splice(at, 1)
        model.push([key, size])
        let total = model.reduce((n, [, s]) => n + s, 0)
        while (total > 1000) total -= model.shift()![1]
      }
      expect(lru.bytes).toBeLessThanOrEqual(1000)
      expect(lru.bytes).toBe(model.reduce((n, [, s]) => n + s, 0))
      expect(lru.size).toBe(model.length)
    }
  })
})

describe("withMemoryTier", () => {
  it.effect("serves what it read once from memory, the very same blob, without the backend", () =>
    Effect.gen(function*() {
      const b = counted()
      b.blobs.set(KEY(1), bytes(100))
      const tier = yield* withMemoryTier(b.storage, opts)
      const first = yield* tier.get(KEY(1))
      const second = yield* tier.get(KEY(1))
      assert.strictEqual(second, first)
      assert.strictEqual(b.gets(), 1)
      // Nothing is kept for a key the backend doesn't have.
      assert.isUndefined(yield* tier.get(KEY(2)))
      assert.isUndefined(yield* tier.get(KEY(2)))
      assert.strictEqual(b.gets(), 3)
    }).pipe(Effect.scoped))

  it.effect("keeps what it wrote, and the latest version of a key", () =>
    Effect.gen(function*() {
      const b = counted()
      const tier = yield* withMemoryTier(b.storage, opts)
      yield* tier.put(KEY(1), bytes(100, 1))
      const v2 = bytes(100, 2)
      yield* tier.put(KEY(1), v2)
      assert.strictEqual(yield* tier.get(KEY(1)), v2)
      assert.strictEqual(b.gets(), 0)
      assert.strictEqual(b.blobs.get(KEY(1)), v2)
    }).pipe(Effect.scoped))

  it.effect("keeps no blob bigger than its limit, and nothing the backend refused", () =>
    Effect.gen(function*() {
      const b = counted()
      const tier = yield* withMemoryTier(b.storage, opts)
      yield* tier.put(KEY(1), bytes(401))
      assert.isDefined(yield* tier.get(KEY(1)))
      assert.strictEqual(b.gets(), 1)
      const refusing = yield* withMemoryTier(Storage.of({
        ...b.storage,
        put: () => Effect.fail(new StorageError({ backend: "test", op: "put", reason: "io", message: "disk full" }))
      }), opts)
      const failed = yield* refusing.put(KEY(3), bytes(10)).pipe(Effect.flip)
      assert.strictEqual(failed.message, "disk full")
      assert.isUndefined(yield* refusing.get(KEY(3)))
    }).pipe(Effect.scoped))

  it.effect("reads a blob it serves through to the backend again once it is old, keeping the backend's LRU clock", () =>
    Effect.gen(function*() {
      const b = counted()
      b.blobs.set(KEY(1), bytes(10))
      const tier = yield* withMemoryTier(b.storage, { ...opts, refreshMs: 0 })
      yield* tier.get(KEY(1))
      yield* tier.get(KEY(1))
      yield* Effect.yieldNow
      assert.strictEqual(b.gets(), 2)
    }).pipe(Effect.scoped))

  it.live("in front of the disk: an entry served from memory survives its file being removed", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-tier-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const tier = yield* withMemoryTier(yield* makeDiskStorage({ dir, maxSize: 1024 ** 2 }), opts)
      const blob = bytes(300, 7)
      yield* tier.put(KEY(9), blob)
      yield* Effect.promise(() => fs.rm(path.join(dir, "sccache-ts-v1"), { recursive: true }))
      assert.deepStrictEqual(yield* tier.get(KEY(9)), blob)
      assert.isUndefined(yield* tier.get(KEY(8)))
    }).pipe(Effect.scoped))
})

describe("decodedOnce", () => {
  it("decodes a blob once, and a failure every time", async () => {
    let calls = 0
    const decode = decodedOnce(async (_key: string, b: Uint8Array) => {
      calls++
      return b[0] === 0 ? new Error("corrupt") : { first: b[0] }
    })
    const good = bytes(4, 5)
    assert.strictEqual(await decode("k", good), await decode("k", good))
    assert.strictEqual(calls, 1)
    // Another blob with the same bytes is another object: decoded again.
    assert.deepStrictEqual(await decode("k", bytes(4, 5)), { first: 5 })
    assert.strictEqual(calls, 2)
    const bad = bytes(4, 0)
    assert.instanceOf(await decode("k", bad), Error)
    assert.instanceOf(await decode("k", bad), Error)
    assert.strictEqual(calls, 4)
  })

  it("never answers for one key with what a blob decoded to under another", async () => {
    const decode = decodedOnce(async (key: string, b: Uint8Array) => (key === "a" ? { first: b[0] } : new Error("entry belongs to another key")))
    const blob = bytes(4, 5)
    assert.deepStrictEqual(await decode("a", blob), { first: 5 })
    assert.instanceOf(await decode("b", blob), Error)
  })
})
