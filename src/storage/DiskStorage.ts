import { Effect, Layer, Ref } from "effect"
import { randomBytes } from "node:crypto"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { DaemonConfig } from "../config/Config.ts"
import { TEMP_PREFIX, tempName, writeFileAtomically } from "../fs/AtomicWrite.ts"
import { MAX_ENTRY_BYTES, Storage, StorageError, type StorageFailure, type StorageMode } from "./Storage.ts"

/** Our entries live in this subfolder, so a SCCACHE_DIR shared with mozilla sccache never mixes the two. */
export const VERSION_DIR = "sccache-ts-v1"
const KEY = /^[0-9a-f]{16,128}$/
/** Older temp files belong to a writer that died mid-put; younger ones may still be in flight. */
const STALE_TEMP_MS = 60 * 60 * 1000
/** Evicting below the limit leaves headroom, so the next puts do not each start another eviction. */
const EVICT_TO = 0.9
const FS_CONCURRENCY = 16
/** Private to the user, like the socket: entries hold the user's objects and compiler output. */
const DIR_MODE = 0o700
const FILE_MODE = 0o600
/**
 * A FIFO at an entry's path would block the thread that opens it for good (libuv's, which every
 * file operation of the daemon shares); a symlink could point anywhere.
 */
const OPEN_ENTRY = fsSync.constants.O_RDONLY | fsSync.constants.O_NONBLOCK | fsSync.constants.O_NOFOLLOW

/** A file at an entry's path that is not one we could have written. */
class Refused extends Error {
  readonly reason: StorageFailure
  constructor(message: string, reason: StorageFailure) {
    super(message)
    this.reason = reason
  }
}

/**
 * Reads an entry file, or undefined when there is none. Anything but a regular file of at most
 * `max` bytes is refused without reading it; the LRU clock is refreshed through the same
 * descriptor, never through a path someone may have swapped meanwhile.
 */
const readEntryFile = async (file: string, max: number): Promise<Uint8Array | undefined> => {
  const fh = await orMissing(fs.open(file, OPEN_ENTRY))
  if (fh === undefined) return undefined
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new Refused(`${file} is not a regular file`, "io")
    if (st.size > max) throw new Refused(`${file} holds ${st.size} bytes, over the entry limit of ${max}`, "too-large")
    const data = Buffer.allocUnsafe(st.size)
    let n = 0
    for (let got = -1; got !== 0 && n < data.length; n += got) got = (await fh.read(data, n, data.length - n, n)).bytesRead
    // Failing (read-only dir) only ages the entry.
    const now = new Date()
    await fh.utimes(now, now).catch(() => undefined)
    return data.subarray(0, n)
  } finally {
    await fh.close()
  }
}

type Op = StorageError["op"]

interface ScannedFile {
  readonly file: string
  readonly name: string
  readonly size: number
  readonly mtimeMs: number
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === "ENOENT"

/** Other daemons share the directory and may remove any file at any moment: for us that is a miss. */
const orMissing = <A>(p: Promise<A>): Promise<A | undefined> =>
  p.catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)))

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const attempt = <A>(op: Op, reason: "io" | "unavailable", what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new StorageError({
        backend: "disk",
        op,
        reason: cause instanceof Refused ? cause.reason : reason,
        message: `${what}: ${describe(cause)}`,
        cause
      })
  })

/** Every entry and temp file under the versioned folder; the one source of truth, as other daemons write too. */
const scan = (root: string) =>
  Effect.gen(function*() {
    const dirents = yield* Effect.tryPromise(() => orMissing(fs.readdir(root, { recursive: true, withFileTypes: true })))
    const candidates = (dirents ?? []).filter((d) => d.isFile() && (KEY.test(d.name) || d.name.startsWith(TEMP_PREFIX)))
    const scanned = yield* Effect.forEach(candidates, (d) => {
      const file = path.join(d.parentPath, d.name)
      return Effect.tryPromise(() => orMissing(fs.stat(file))).pipe(
        Effect.map((s): ScannedFile | undefined => s && { file, name: d.name, size: s.size, mtimeMs: s.mtimeMs })
      )
    }, { concurrency: FS_CONCURRENCY })
    return scanned.filter((f) => f !== undefined)
  })

/**
 * The local-disk Storage: `<dir>/sccache-ts-v1/<key[0..2]>/<key[2..4]>/<key>`, bounded by `maxSize`
 * with least-recently-used eviction (file mtime is the clock). Eviction runs in background fibers
 * in the caller's scope, so no get or put ever waits for it.
 */
export const makeDiskStorage = Effect.fnUntraced(function*(opts: { readonly dir: string; readonly maxSize: number }) {
  const root = path.join(opts.dir, VERSION_DIR)
  const scope = yield* Effect.scope
  // Bytes under `root`: unknown until the first scan, then kept up to date by puts and later scans.
  const total = yield* Ref.make<number | undefined>(undefined)
  const sweeping = yield* Ref.make(false)

  const entryPath = (op: Op, key: string) =>
    KEY.test(key)
      ? Effect.succeed(path.join(root, key.slice(0, 2), key.slice(2, 4), key))
      : Effect.fail(new StorageError({
        backend: "disk",
        op,
        reason: "io",
        message: `invalid cache key ${JSON.stringify(key.slice(0, 200))}`
      }))

  const sweep = Effect.gen(function*() {
    const files = yield* scan(root)
    const now = Date.now()
    const staleTemps = files.filter((f) => f.name.startsWith(TEMP_PREFIX) && now - f.mtimeMs > STALE_TEMP_MS)
    const entries = files.filter((f) => KEY.test(f.name)).sort((a, b) => a.mtimeMs - b.mtimeMs)
    let current = entries.reduce((n, f) => n + f.size, 0)
    const victims: Array<ScannedFile> = []
    if (current > opts.maxSize) {
      for (const entry of entries) {
        if (current <= opts.maxSize * EVICT_TO) break
        victims.push(entry)
        current -= entry.size
      }
    }
    yield* Effect.forEach(
      [...staleTemps, ...victims],
      (f) => Effect.tryPromise(() => orMissing(fs.unlink(f.file))),
      { concurrency: FS_CONCURRENCY, discard: true }
    )
    // The rescan is the truth; puts that landed while it ran are counted again by the next one.
    yield* Ref.set(total, current)
    if (victims.length > 0) {
      yield* Effect.logDebug(`Disk cache: evicted ${victims.length} entries, ${current} bytes remain`)
    }
  }).pipe(
    Effect.catch((error) => Effect.logWarning(`Disk cache: scan or eviction of ${root} failed: ${describe(error.cause)}`)),
    Effect.ensuring(Ref.set(sweeping, false))
  )

  // At most one sweep at a time; it runs in the storage's scope, not the fiber that asked for it.
  const startSweep = Ref.getAndSet(sweeping, true).pipe(
    Effect.flatMap((running) => (running ? Effect.void : Effect.asVoid(Effect.forkIn(sweep, scope))))
  )

  const get = Effect.fn("DiskStorage.get")(function*(key: string) {
    const file = yield* entryPath("get", key)
    return yield* attempt("get", "io", "cannot read cache entry", () => readEntryFile(file, Math.min(opts.maxSize, MAX_ENTRY_BYTES)))
  })

  const put = Effect.fn("DiskStorage.put")(function*(key: string, blob: Uint8Array) {
    const file = yield* entryPath("put", key)
    // One entry bigger than the whole cache would evict everything else and then itself.
    if (blob.length > opts.maxSize) {
      return yield* new StorageError({
        backend: "disk",
        op: "put",
        reason: "too-large",
        message: `entry of ${blob.length} bytes exceeds the cache size limit of ${opts.maxSize} bytes`
      })
    }
    yield* attempt("put", "io", "cannot write cache entry", async () => {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: DIR_MODE })
      await writeFileAtomically(file, blob, { mode: FILE_MODE })
    })
    const next = yield* Ref.updateAndGet(total, (n) => (n === undefined ? undefined : n + blob.length))
    if (next !== undefined && next > opts.maxSize) yield* startSweep
  })

  const check: Effect.Effect<StorageMode, StorageError> = Effect.gen(function*() {
    const probe = path.join(root, tempName())
    const bytes = randomBytes(16)
    // Synchronous: it runs once, as the daemon starts, and the first compile waits for it (the
    // thread pool's first round trips cost more than the few syscalls).
    const writable = yield* attempt("check", "unavailable", `cannot write to ${root}`, async () => {
      fsSync.mkdirSync(root, { recursive: true, mode: DIR_MODE })
      fsSync.writeFileSync(probe, bytes, { flag: "wx", mode: FILE_MODE })
    }).pipe(
      Effect.as(true),
      // Not writable, but entries can still be served if the folder can be listed.
      Effect.catch((writeError) =>
        Effect.tryPromise(() => fs.readdir(root)).pipe(Effect.as(false), Effect.mapError(() => writeError))
      )
    )
    if (!writable) return "read-only"
    const back = yield* attempt("check", "unavailable", `cannot read back ${probe}`, async () => {
      try {
        return fsSync.readFileSync(probe)
      } finally {
        fsSync.rmSync(probe, { force: true })
      }
    })
    if (!back.equals(bytes)) {
      return yield* new StorageError({
        backend: "disk",
        op: "check",
        reason: "unavailable",
        message: `${probe} read back different bytes than were written`
      })
    }
    return "read-write"
  }).pipe(Effect.withSpan("DiskStorage.check"))

  const size = Ref.get(total).pipe(
    Effect.map((current) => (current === undefined ? { max: opts.maxSize } : { current, max: opts.maxSize }))
  )

  yield* startSweep

  return Storage.of({ location: `Local disk: "${opts.dir}"`, get, put, check, size })
})

export const DiskStorage = {
  /** The daemon's disk cache, at `cacheDir` and bounded by `maxCacheSize`. */
  layer: Layer.effect(
    Storage,
    Effect.gen(function*() {
      const { cacheDir, maxCacheSize } = yield* DaemonConfig
      return yield* makeDiskStorage({ dir: cacheDir, maxSize: maxCacheSize })
    })
  )
}
