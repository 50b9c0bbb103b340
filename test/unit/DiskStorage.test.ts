import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { DaemonConfig, type DaemonSettings } from "../../src/config/Config.ts"
import { DiskStorage, makeDiskStorage } from "../../src/storage/DiskStorage.ts"
import { Storage, StorageError, type StorageShape } from "../../src/storage/Storage.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-ts-disk-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** 32 hex digits; different `n` land in different subfolders. */
const key = (n: number) => n.toString(16).padStart(2, "0").repeat(16)

const entryFile = (dir: string, k: string) => path.join(dir, "sccache-ts-v1", k.slice(0, 2), k.slice(2, 4), k)

const blobOf = (size: number, fill: number) => new Uint8Array(size).fill(fill)

const exists = (file: string) => Effect.promise(() => fs.access(file).then(() => true, () => false))

const listFiles = (dir: string) =>
  Effect.promise(async () => {
    const dirents = await fs.readdir(dir, { recursive: true, withFileTypes: true })
    return dirents.filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath, d.name))).sort()
  })

/** Polls with real time: background scans and evictions finish on their own schedule. */
const eventually = Effect.fnUntraced(function*<E>(what: string, condition: Effect.Effect<boolean, E>) {
  for (let i = 0; i < 500; i++) {
    if (yield* condition) return
    yield* Effect.sleep("10 millis")
  }
  assert.fail(`timed out waiting until ${what}`)
})

const scanned = (storage: StorageShape) =>
  eventually("the first scan finished", storage.size.pipe(Effect.map((s) => s.current !== undefined)))

const setAge = (file: string, secondsAgo: number) =>
  Effect.promise(() => {
    const t = new Date(Date.now() - secondsAgo * 1000)
    return fs.utimes(file, t, t)
  })

const mtime = (file: string) => Effect.promise(() => fs.stat(file).then((s) => s.mtimeMs))

it.live("round trip under the versioned folder", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    const blob = new TextEncoder().encode("object file bytes")
    yield* storage.put(key(1), blob)
    assert.deepStrictEqual(yield* storage.get(key(1)), new Uint8Array(blob))
    assert.isTrue(yield* exists(entryFile(dir, key(1))))
    assert.strictEqual(storage.location, `Local disk: "${dir}"`)
    yield* scanned(storage)
    assert.deepStrictEqual(yield* storage.size, { current: blob.length, max: 1 << 20 })
  }))

it.live("a missing key is undefined", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    assert.isUndefined(yield* storage.get(key(7)))
  }))

it.live("invalid keys are errors and never touch the file system", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    const bad = ["../../../../../../../../tmp/0123456789abcdef", "0123456789ABCDEF", "0123456789abcde",
      "0123456789abcdef\n", "0123456789abcdef/..", "a".repeat(129), ""]
    for (const k of bad) {
      for (const op of ["get", "put"] as const) {
        const error = yield* Effect.flip(op === "get" ? storage.get(k) : storage.put(k, blobOf(8, 1)))
        assert.instanceOf(error, StorageError, `${op} ${JSON.stringify(k)}`)
        assert.strictEqual(error.op, op)
        assert.strictEqual(error.backend, "disk")
      }
    }
    assert.deepStrictEqual(yield* listFiles(dir), [])
  }))

it.live("an entry larger than the whole cache is refused", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 100 })
    const error = yield* Effect.flip(storage.put(key(1), blobOf(101, 1)))
    assert.strictEqual(error.reason, "too-large")
    assert.isUndefined(yield* storage.get(key(1)))
  }))

it.live("puts leave no temp files behind", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    yield* Effect.forEach([1, 2, 3, 1], (n) => storage.put(key(n), blobOf(1000, n)), { concurrency: "unbounded" })
    const files = yield* listFiles(dir)
    assert.deepStrictEqual(files, [1, 2, 3].map((n) => path.relative(dir, entryFile(dir, key(n)))))
  }))

it.live("concurrent puts of one key end with one whole entry, and readers never see part of one", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 64 << 20 })
    const size = 1024 * 1024
    const isWhole = (b: Uint8Array | undefined) => b !== undefined && b.length === size && b.every((x) => x === b[0])
    const [, reads] = yield* Effect.all([
      Effect.forEach(Array.from({ length: 16 }, (_, i) => i + 1), (n) => storage.put(key(1), blobOf(size, n)), {
        concurrency: "unbounded"
      }),
      Effect.forEach(Array.from({ length: 64 }), () => storage.get(key(1)), { concurrency: 4 })
    ], { concurrency: 2 })
    assert.isTrue(reads.every((b) => b === undefined || isWhole(b)), "a reader saw a partial entry")
    assert.isTrue(isWhole(yield* storage.get(key(1))))
    assert.deepStrictEqual(yield* listFiles(dir), [path.relative(dir, entryFile(dir, key(1)))])
  }))

it.live("eviction keeps the most recently used entries", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1000 })
    yield* scanned(storage)
    const [a, b, c, d] = [key(0xa), key(0xb), key(0xc), key(0xd)]
    for (const k of [a, b, c]) yield* storage.put(k, blobOf(300, 1))
    assert.deepStrictEqual(yield* storage.size, { current: 900, max: 1000 })
    // Oldest first: a, b, c. Reading `a` makes it the newest of the three.
    yield* setAge(entryFile(dir, a), 300)
    yield* setAge(entryFile(dir, b), 200)
    yield* setAge(entryFile(dir, c), 100)
    assert.isDefined(yield* storage.get(a))
    const cTime = yield* mtime(entryFile(dir, c))
    yield* eventually("the read refreshed a", mtime(entryFile(dir, a)).pipe(Effect.map((t) => t > cTime)))

    yield* storage.put(d, blobOf(300, 2)) // 1200 > 1000: evict down to 900, i.e. one entry
    yield* eventually("b was evicted", exists(entryFile(dir, b)).pipe(Effect.map((e) => !e)))
    for (const k of [a, c, d]) assert.isTrue(yield* exists(entryFile(dir, k)), `${k} should survive`)
    yield* eventually("the total came from the rescan", storage.size.pipe(Effect.map((s) => s.current === 900)))
  }))

it.live("scans ignore files outside the versioned folder and remove stale temp files", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    // What mozilla sccache keeps in the same SCCACHE_DIR: hex-named files two levels down.
    const foreign = path.join(dir, "a", "b", `ab${"0".repeat(30)}`)
    yield* Effect.promise(() => fs.mkdir(path.dirname(foreign), { recursive: true }))
    yield* Effect.promise(() => fs.writeFile(foreign, blobOf(5000, 9)))
    yield* setAge(foreign, 10_000)
    const tempFolder = path.dirname(entryFile(dir, key(1)))
    yield* Effect.promise(() => fs.mkdir(tempFolder, { recursive: true }))
    const staleTemp = path.join(tempFolder, ".tmp-sccache-ts-1-dead")
    const freshTemp = path.join(tempFolder, ".tmp-sccache-ts-2-busy")
    yield* Effect.promise(() => Promise.all([fs.writeFile(staleTemp, "x"), fs.writeFile(freshTemp, "y")]))
    yield* setAge(staleTemp, 2 * 60 * 60)

    const storage = yield* makeDiskStorage({ dir, maxSize: 1000 })
    yield* scanned(storage)
    assert.deepStrictEqual(yield* storage.size, { current: 0, max: 1000 })
    assert.isFalse(yield* exists(staleTemp))
    assert.isTrue(yield* exists(freshTemp))

    for (const n of [1, 2, 3, 4]) {
      yield* storage.put(key(n), blobOf(400, n))
      yield* setAge(entryFile(dir, key(n)), 100 - n)
    }
    yield* eventually("an eviction ran", storage.size.pipe(Effect.map((s) => s.current !== undefined && s.current <= 900)))
    assert.isFalse(yield* exists(entryFile(dir, key(1))))
    assert.deepStrictEqual(yield* Effect.promise(() => fs.readFile(foreign)), Buffer.from(blobOf(5000, 9)))
  }))

it.live("two storages on one directory read each other's entries", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const one = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    const two = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    yield* one.put(key(1), blobOf(10, 1))
    yield* two.put(key(2), blobOf(20, 2))
    assert.deepStrictEqual(yield* two.get(key(1)), blobOf(10, 1))
    assert.deepStrictEqual(yield* one.get(key(2)), blobOf(20, 2))
  }))

it.live("check: read-write on a usable directory, unavailable beneath a regular file", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const good = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    assert.strictEqual(yield* good.check, "read-write")
    assert.deepStrictEqual(yield* listFiles(dir), [], "the probe file was left behind")

    const file = path.join(dir, "not-a-dir")
    yield* Effect.promise(() => fs.writeFile(file, ""))
    const bad = yield* makeDiskStorage({ dir: path.join(file, "cache"), maxSize: 1 << 20 })
    const error = yield* Effect.flip(bad.check)
    assert.instanceOf(error, StorageError)
    assert.strictEqual(error.reason, "unavailable")
    assert.strictEqual(error.op, "check")
  }))

it.live("the layer reads its directory and limit from DaemonConfig", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const settings: DaemonSettings = {
      cacheDir: dir,
      maxCacheSize: 4096,
      idleTimeoutSeconds: 600,
      recache: false,
      logLevel: "warn",
      errorLog: undefined,
      direct: true,
      basedirs: [],
      zstdLevel: 3
    }
    yield* Effect.gen(function*() {
      const storage = yield* Storage
      assert.strictEqual(storage.location, `Local disk: "${dir}"`)
      assert.strictEqual((yield* storage.size).max, 4096)
      yield* storage.put(key(1), blobOf(10, 1))
    }).pipe(Effect.provide(DiskStorage.layer.pipe(Layer.provide(Layer.succeed(DaemonConfig, settings))), { local: true }))
    assert.isTrue(yield* exists(entryFile(dir, key(1))))
  }))
