/**
 * A cache directory may be shared (NFS, a CI volume) or tampered with: what sits at an entry's
 * path is input from others. None of it may block the daemon's file threads or be followed.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { makeDiskStorage } from "../../src/storage/DiskStorage.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-ts-hostile-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const KEY = "ab".repeat(16)
const entryFile = (dir: string) => path.join(dir, "sccache-ts-v1", KEY.slice(0, 2), KEY.slice(2, 4), KEY)

/** Puts `make(file)` where the entry would be, after a real put made the folders. */
const plant = (dir: string, make: (file: string) => Promise<void>) =>
  Effect.promise(async () => {
    const file = entryFile(dir)
    await fs.rm(file, { force: true })
    await make(file)
  })

const failure = <A, E>(e: Effect.Effect<A, E>) => Effect.flip(e)

it.live("a FIFO at an entry's path is refused at once, and the storage keeps working", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    yield* storage.put(KEY, new Uint8Array([1, 2, 3]))
    yield* plant(dir, async (file) => {
      assert.strictEqual(spawnSync("mkfifo", [file]).status, 0)
    })
    // With a blocking open, this read would never return (nor would any later file operation
    // once the threadpool's four threads are all stuck): eight lookups in a row prove neither.
    for (let i = 0; i < 8; i++) {
      const e = yield* failure(storage.get(KEY))
      assert.strictEqual(e.reason, "io")
      assert.match(e.message, /is not a regular file/)
    }
    const other = "cd".repeat(16)
    yield* storage.put(other, new Uint8Array([4]))
    assert.deepStrictEqual(yield* storage.get(other), new Uint8Array([4]))
  }))

it.live("a symlink at an entry's path is not followed", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    yield* storage.put(KEY, new Uint8Array([1]))
    const secret = path.join(dir, "secret")
    yield* Effect.promise(() => fs.writeFile(secret, "not an entry"))
    yield* plant(dir, (file) => fs.symlink(secret, file))
    const e = yield* failure(storage.get(KEY))
    assert.strictEqual(e.reason, "io")
    assert.match(e.message, /ELOOP/)
  }))

it.live("a directory at an entry's path is refused", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
    yield* storage.put(KEY, new Uint8Array([1]))
    yield* plant(dir, (file) => fs.mkdir(file))
    const e = yield* failure(storage.get(KEY))
    assert.match(e.message, /is not a regular file/)
  }))

it.live("an entry file larger than the cache itself is refused without reading it", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const storage = yield* makeDiskStorage({ dir, maxSize: 4096 })
    yield* storage.put(KEY, new Uint8Array([1]))
    // Sparse: a terabyte claimed, nothing allocated on disk or in memory.
    yield* plant(dir, async (file) => {
      await fs.writeFile(file, "")
      await fs.truncate(file, 2 ** 40)
    })
    const e = yield* failure(storage.get(KEY))
    assert.strictEqual(e.reason, "too-large")
  }))

it.live("folders are 0700 and entries 0600 whatever the umask", () =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const old = process.umask(0o022)
    try {
      const storage = yield* makeDiskStorage({ dir, maxSize: 1 << 20 })
      assert.strictEqual(yield* storage.check, "read-write")
      yield* storage.put(KEY, new Uint8Array([1, 2]))
    } finally {
      process.umask(old)
    }
    const mode = (p: string) => Effect.promise(() => fs.stat(p).then((s) => s.mode & 0o777))
    assert.strictEqual(yield* mode(entryFile(dir)), 0o600)
    assert.strictEqual(yield* mode(path.dirname(entryFile(dir))), 0o700)
    assert.strictEqual(yield* mode(path.join(dir, "sccache-ts-v1")), 0o700)
  }))
