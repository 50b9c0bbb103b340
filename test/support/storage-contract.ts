/**
 * What every remote backend must do, run against its real server: round trips, prefixes,
 * read-only mode, and bounded failure when the server is down, crashes and returns, or hangs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { parseBackendSettings, type RemoteBackend, type RemoteSettings } from "../../src/config/BackendConfig.ts"
import type { Env } from "../../src/config/Config.ts"
import type { RemoteOptions } from "../../src/storage/RemoteStorage.ts"
import { StorageError, type StorageShape } from "../../src/storage/Storage.ts"
import { freePort, startHangingServer } from "./processes.ts"

export interface Harness<S extends RemoteSettings> {
  readonly name: RemoteBackend
  /** The backend's variables for a server at `address` (`127.0.0.1:port`). */
  readonly env: (address: string, opts: { readonly keyPrefix: string; readonly readOnly: boolean }) => Env
  /** The shared server of this run. */
  readonly address: string
  readonly open: (settings: S, options?: RemoteOptions) => Effect.Effect<StorageShape, StorageError, Scope.Scope>
  /** A private server for crash tests, on `port` when restarting. */
  readonly startPrivate: (port?: number) => Promise<{ readonly port: number; readonly kill: () => Promise<void> }>
  /** Raw keys under a prefix on the shared server, where the backend can list them. */
  readonly rawKeys?: (prefix: string) => Promise<ReadonlyArray<string>>
}

export const key = () => randomBytes(32).toString("hex")
export const prefix = () => `t-${randomBytes(6).toString("hex")}`
export const blob = (size: number) => new Uint8Array(randomBytes(size))

/** Settings through the real parser, so the tests also cover the variables. */
export const settingsFrom = <S extends RemoteSettings>(env: Env): S => {
  const parsed = parseBackendSettings(env)
  if (parsed instanceof Error) throw parsed
  const remote = parsed.levels.find((l) => l !== "disk")
  if (remote === undefined) throw new Error(`no remote in ${JSON.stringify(env)}`)
  return remote as S
}

/** The outcome of an effect and how long it took, in ms. */
export const timed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const result = yield* Effect.result(self)
    return { result, ms: performance.now() - start }
  })

/** Fails the test unless `self` failed with a StorageError within `maxMs`. */
export const expectStorageError = Effect.fnUntraced(function*<A>(
  self: Effect.Effect<A, StorageError>,
  maxMs: number,
  reasons?: ReadonlyArray<StorageError["reason"]>
) {
  const { result, ms } = yield* timed(self)
  if (result._tag === "Success") return assert.fail(`expected a StorageError, got ${String(result.success)}`)
  const error = result.failure
  assert.instanceOf(error, StorageError)
  assert.isBelow(ms, maxMs, `${error.op} took ${Math.round(ms)} ms: ${error.message}`)
  if (reasons !== undefined) assert.include(reasons, error.reason, error.message)
  return error
})

/** Retries `self` until it succeeds, for at most `ms`. */
export const eventually = <A, E, R>(self: Effect.Effect<A, E, R>, ms: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const result = yield* Effect.result(self)
      if (result._tag === "Success") return result.success
      yield* Effect.sleep("100 millis")
    }
    return yield* self
  })

/**
 * Short bounds for failure tests; the defaults are for real networks. No backoff: every operation
 * meets the server, so each one's own bound is what is tested.
 */
const FAST: RemoteOptions = { timeouts: { get: 400, put: 400, check: 400 }, backoff: { initialMs: 0, maxMs: 0 } }

export const storageContract = <S extends RemoteSettings>(h: Harness<S>) =>
  describe(`${h.name} storage against a real server`, () => {
    const open = (opts: { keyPrefix?: string; readOnly?: boolean; address?: string } = {}, options?: RemoteOptions) =>
      h.open(settingsFrom<S>(h.env(opts.address ?? h.address, { keyPrefix: opts.keyPrefix ?? "", readOnly: opts.readOnly ?? false })), options)

    it.live("round-trips a 1 MiB random blob", () =>
      Effect.gen(function*() {
        const storage = yield* open({ keyPrefix: prefix() })
        assert.strictEqual(yield* storage.check, "read-write")
        const k = key()
        const data = blob(1024 * 1024)
        yield* storage.put(k, data)
        const back = yield* storage.get(k)
        assert.isDefined(back)
        assert.isTrue(Buffer.from(back!).equals(Buffer.from(data)), "bytes differ")
      }), 15_000)

    it.live("refuses a value over the read bound, and serves one right at it", () =>
      Effect.gen(function*() {
        // A shared cache is input from others: a planted value of gigabytes costs a refusal.
        const max = 64 * 1024
        const storage = yield* open({ keyPrefix: prefix() }, { maxBlobBytes: max })
        const [atBound, over] = [key(), key()]
        const data = blob(max)
        yield* storage.put(atBound, data)
        yield* storage.put(over, blob(max + 1))
        const back = yield* storage.get(atBound)
        assert.isTrue(back !== undefined && Buffer.from(back).equals(Buffer.from(data)), "bytes differ")
        yield* expectStorageError(storage.get(over), 5_000, ["too-large"])
      }), 15_000)

    it.live("returns undefined for a missing key", () =>
      Effect.gen(function*() {
        const storage = yield* open({ keyPrefix: prefix() })
        assert.isUndefined(yield* storage.get(key()))
      }), 10_000)

    it.live("keeps prefixes apart, under sccache's prefix/a/b/c/key layout", () =>
      Effect.gen(function*() {
        const [pa, pb] = [prefix(), prefix()]
        const a = yield* open({ keyPrefix: `/${pa}/` })
        const b = yield* open({ keyPrefix: pb })
        const k = key()
        yield* a.put(k, blob(100))
        assert.isDefined(yield* a.get(k))
        assert.isUndefined(yield* b.get(k))
        if (h.rawKeys !== undefined) {
          assert.deepStrictEqual(yield* Effect.promise(() => h.rawKeys!(pa)), [`${pa}/${k[0]}/${k[1]}/${k[2]}/${k}`])
        }
      }), 10_000)

    it.live("writes nothing in read-only mode, not even the check probe", () =>
      Effect.gen(function*() {
        const p = prefix()
        const readOnly = yield* open({ keyPrefix: p, readOnly: true })
        const readWrite = yield* open({ keyPrefix: p })
        assert.strictEqual(yield* readOnly.check, "read-only")
        const k = key()
        yield* readOnly.put(k, blob(100))
        assert.isUndefined(yield* readWrite.get(k))
        if (h.rawKeys !== undefined) assert.deepStrictEqual(yield* Effect.promise(() => h.rawKeys!(p)), [])
        // Entries that others wrote are still served.
        yield* readWrite.put(k, blob(100))
        assert.isDefined(yield* readOnly.get(k))
      }), 10_000)

    it.live("fails fast with StorageError when the server is down at start", () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(freePort)
        const storage = yield* open({ address: `127.0.0.1:${port}` }, FAST)
        yield* expectStorageError(storage.check, 2_500)
        yield* expectStorageError(storage.get(key()), 2_500)
        yield* expectStorageError(storage.put(key(), blob(100)), 2_500)
      }), 15_000)

    it.live("errs while its server is killed, and works again once it is back", () =>
      Effect.gen(function*() {
        const first = yield* Effect.promise(() => h.startPrivate())
        // A short backoff, so the circuit breaker lets a try through soon after the restart.
        const storage = yield* open({ address: `127.0.0.1:${first.port}` }, {
          timeouts: { get: 1000, put: 1000, check: 1000 },
          backoff: { initialMs: 100, maxMs: 400 }
        })
        const k = key()
        yield* storage.put(k, blob(1000))
        assert.isDefined(yield* storage.get(k))
        yield* Effect.promise(first.kill)
        yield* expectStorageError(storage.get(k), 2_500)
        yield* expectStorageError(storage.put(key(), blob(100)), 2_500)
        const second = yield* Effect.promise(() => h.startPrivate(first.port))
        yield* Effect.addFinalizer(() => Effect.promise(second.kill))
        // The restarted server is empty; the same client reconnects on its own.
        const k2 = key()
        yield* eventually(storage.put(k2, blob(1000)), 5_000)
        assert.isDefined(yield* storage.get(k2))
      }), 20_000)

    it.live("bounds every operation on a server that accepts and never answers", () =>
      Effect.gen(function*() {
        const hanging = yield* Effect.acquireRelease(Effect.promise(startHangingServer), (s) => Effect.promise(s.close))
        const storage = yield* open({ address: `127.0.0.1:${hanging.port}` }, FAST)
        yield* expectStorageError(storage.check, 1_500, ["timeout"])
        yield* expectStorageError(storage.get(key()), 1_500, ["timeout"])
        yield* expectStorageError(storage.put(key(), blob(100)), 1_500, ["timeout"])
      }), 15_000)

    it.live("with the circuit breaker, a server that never answers costs one timeout, then calls fail at once", () =>
      Effect.gen(function*() {
        const hanging = yield* Effect.acquireRelease(Effect.promise(startHangingServer), (s) => Effect.promise(s.close))
        const storage = yield* open({ address: `127.0.0.1:${hanging.port}` }, { timeouts: { get: 400, put: 400, check: 400 } })
        yield* expectStorageError(storage.get(key()), 1_500, ["timeout"])
        for (let i = 0; i < 5; i++) yield* expectStorageError(storage.get(key()), 50, ["unavailable"])
        yield* expectStorageError(storage.put(key(), blob(100)), 50, ["unavailable"])
      }), 15_000)
  })
