import { Effect } from "effect"
import { redactUrl } from "../config/BackendConfig.ts"
import type { RemoteBackend } from "../config/BackendConfig.ts"
import { type Backoff, DEFAULT_BACKOFF, makeCircuitBreaker } from "./CircuitBreaker.ts"
import { MAX_ENTRY_BYTES, Storage, StorageError, type StorageFailure, type StorageMode, type StorageShape } from "./Storage.ts"

/** Milliseconds each operation may take, whatever the server or the SDK does. */
export interface RemoteTimeouts {
  readonly get: number
  readonly put: number
  readonly check: number
}

/**
 * A lookup holds up its compile, so it gets 5 s (sccache's 60 s would stall a build for a minute
 * per lookup): a healthy server answers in milliseconds, and 5 s still carries a multi-megabyte
 * entry over a slow link. The start probe holds up the daemon's first reply, so the same. Puts
 * run after the reply, so theirs leaves room for large uploads. A server that stops answering
 * costs one timeout, then the circuit breaker skips it for a while.
 */
const DEFAULT_TIMEOUTS: RemoteTimeouts = { get: 5_000, put: 60_000, check: 5_000 }

/** What the daemon and tests may tune when opening a backend. */
export interface RemoteOptions {
  readonly timeouts?: Partial<RemoteTimeouts>
  readonly backoff?: Backoff
  /** The largest blob a read accepts (default MAX_ENTRY_BYTES). */
  readonly maxBlobBytes?: number
}

export const resolveMaxBlob = (options: RemoteOptions | undefined): number => options?.maxBlobBytes ?? MAX_ENTRY_BYTES

/** A stored value over the read bound: refused, read no further than the API allows. */
export class BlobTooLarge extends Error {
  readonly _tag = "BlobTooLarge"
  constructor(size: number | undefined, max: number) {
    super(`the stored value${size === undefined ? "" : ` of ${size} bytes`} is over the ${max}-byte limit`)
  }
}

/** `blob`, unless it is over `max`. */
export const bounded = (blob: Uint8Array | undefined, max: number): Uint8Array | undefined => {
  if (blob !== undefined && blob.length > max) throw new BlobTooLarge(blob.length, max)
  return blob
}

/**
 * Reads a body stream up to `max` bytes: past that, the stream is destroyed (the rest is never
 * downloaded) and the read fails. `size`, when the server announced it, is checked first.
 */
export const readBounded = async (
  stream: AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => void },
  max: number,
  size?: number
): Promise<Buffer> => {
  if (size !== undefined && size > max) {
    stream.destroy?.()
    throw new BlobTooLarge(size, max)
  }
  const chunks: Array<Uint8Array> = []
  let total = 0
  for await (const chunk of stream) {
    total += chunk.length
    if (total > max) {
      stream.destroy?.()
      throw new BlobTooLarge(undefined, max)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

export const resolveTimeouts = (options: RemoteOptions | undefined): RemoteTimeouts => ({
  ...DEFAULT_TIMEOUTS,
  ...options?.timeouts
})

/** sccache's layout: `prefix/a/b/c/<key>`, so no folder of an object store holds millions of entries. */
export const remoteKey = (prefix: string, key: string): string => {
  const path = /^[0-9a-f]{3,}$/.test(key) ? `${key[0]}/${key[1]}/${key[2]}/${key}` : key
  return prefix === "" ? path : `${prefix}/${path}`
}

/** The probe that `check` writes and reads back, under the prefix (sccache's own ignores it, #1825). */
const CHECK_KEY = ".sccache_check"
/** Constant, so daemons checking the same bucket at once never see each other's probe as corrupt. */
const CHECK_BLOB = new TextEncoder().encode("sccache-ts storage check")

const NETWORK_DOWN = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "ECONNABORTED"])
const NETWORK_SLOW = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT", "ECONNTIMEDOUT"])

/** What a Node socket error says about the server, for the causes every SDK passes through. */
export const networkFailure = (cause: unknown): StorageFailure | undefined => {
  for (let e: any = cause, depth = 0; e !== null && typeof e === "object" && depth < 5; e = e.cause, depth++) {
    const code = typeof e.code === "string" ? e.code : undefined
    if (code !== undefined && NETWORK_DOWN.has(code)) return "unavailable"
    if (code !== undefined && NETWORK_SLOW.has(code)) return "timeout"
    if (Array.isArray(e.errors) && e.errors.length > 0) return networkFailure(e.errors[0]) // AggregateError of a dual-stack connect
  }
  return undefined
}

/** What an HTTP status says about the server, for the object stores. */
export const httpFailure = (status: number | undefined): StorageFailure | undefined =>
  status === 401 || status === 403
    ? "auth"
    : status === 408
    ? "timeout"
    : status === 413
    ? "too-large"
    : status !== undefined && status >= 500
    ? "unavailable"
    : undefined

/** `S3, bucket: b, prefix: p, endpoint: e`, the parts that are set. */
export const bucketLocation = (service: string, s: { bucket: string; keyPrefix: string; endpoint: string | undefined }) =>
  [`${service}, bucket: ${s.bucket}`, s.keyPrefix && `prefix: ${s.keyPrefix}`, s.endpoint && `endpoint: ${redactUrl(s.endpoint)}`]
    .filter(Boolean)
    .join(", ")

/** The same bytes as a Buffer, without a copy, for SDKs that want one. */
export const asBuffer = (blob: Uint8Array): Buffer => Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message || cause.name : typeof cause === "string" ? cause : String(cause)

/** The SDK-facing half of a remote backend: promise calls on full keys, which may honour the signal. */
export interface RemoteClient {
  readonly backend: RemoteBackend
  readonly location: string
  readonly keyPrefix: string
  readonly readOnly: boolean
  readonly timeouts: RemoteTimeouts
  /** Maps an SDK failure to what it means; `timeout` from the SDK's own timers, too. */
  readonly classify: (cause: unknown) => StorageFailure
  /** Fails with BlobTooLarge past `max` bytes, having read no more than the API makes it. */
  readonly read: (key: string, signal: AbortSignal, max: number) => Promise<Uint8Array | undefined>
  readonly write: (key: string, blob: Uint8Array, signal: AbortSignal) => Promise<void>
}

/** Calls that got no answer: the circuit breaker leaves the server alone for a while after one. */
const isDown = (e: StorageError): boolean => e.reason === "timeout" || e.reason === "unavailable"

/**
 * The Storage of a remote backend, with what every backend shares: the key prefix and layout,
 * read-only mode, a hard time bound on each call (a hung server costs one timeout, never a hang),
 * a circuit breaker (after a call without an answer, calls fail at once as "unavailable" for a
 * backoff window) and SDK failures turned into StorageError.
 */
export const makeRemoteStorage = (client: RemoteClient, backoff: Backoff = DEFAULT_BACKOFF, maxBlob: number = MAX_ENTRY_BYTES): StorageShape => {
  const breaker = makeCircuitBreaker(backoff, isDown)
  const skipped = (op: StorageError["op"], key: string) => (retryInMs: number) =>
    new StorageError({
      backend: client.backend,
      op,
      reason: "unavailable",
      message: `${client.location}: ${op} ${key}: skipped, the server did not answer lately (${
        retryInMs > 0 ? `next try in ${Math.ceil(retryInMs / 100) / 10} s` : "a try is under way"
      })`
    })
  const call = <A>(op: StorageError["op"], key: string, timeout: number, f: (signal: AbortSignal) => Promise<A>, write = false) =>
    breaker.guard(Effect.tryPromise({
      // Interruption by the timeout aborts the signal, so SDKs that take one drop the request.
      try: (signal) => f(signal),
      catch: (cause) =>
        new StorageError({
          backend: client.backend,
          op,
          reason: cause instanceof BlobTooLarge ? "too-large" : client.classify(cause),
          message: `${client.location}: ${op} ${key}: ${describe(cause)}`,
          cause
        })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new StorageError({
              backend: client.backend,
              op,
              reason: "timeout",
              message: `${client.location}: ${op} ${key}: no answer within ${timeout} ms`
            })
          )
      })
    ), skipped(op, key), write)

  const read = (op: StorageError["op"], key: string) =>
    call(op, key, op === "check" ? client.timeouts.check : client.timeouts.get, (signal) =>
      client.read(remoteKey(client.keyPrefix, key), signal, maxBlob).then((blob) => bounded(blob, maxBlob)))
  const write = (op: StorageError["op"], key: string, blob: Uint8Array) =>
    call(op, key, op === "check" ? client.timeouts.check : client.timeouts.put, (signal) =>
      client.write(remoteKey(client.keyPrefix, key), blob, signal), op !== "check")

  const check: Effect.Effect<StorageMode, StorageError> = Effect.gen(function*() {
    if (client.readOnly) {
      yield* read("check", CHECK_KEY)
      return "read-only" as const
    }
    // As sccache: refused writes with working reads make a read-only cache, not a broken one.
    const written = yield* write("check", CHECK_KEY, CHECK_BLOB).pipe(
      Effect.as(true),
      Effect.catchIf((e) => e.reason === "auth", () => Effect.succeed(false))
    )
    const back = yield* read("check", CHECK_KEY)
    if (!written) return "read-only" as const
    if (back === undefined || Buffer.compare(back, CHECK_BLOB) !== 0) {
      return yield* new StorageError({
        backend: client.backend,
        op: "check",
        reason: "io",
        message: `${client.location}: ${CHECK_KEY} read back ${back === undefined ? "nothing" : "different bytes"}`
      })
    }
    return "read-write" as const
  }).pipe(Effect.withSpan(`${client.backend}.check`))

  return Storage.of({
    location: client.location,
    get: Effect.fn(`${client.backend}.get`)(function*(key: string) {
      return yield* read("get", key)
    }),
    put: Effect.fn(`${client.backend}.put`)(function*(key: string, blob: Uint8Array) {
      if (!client.readOnly) yield* write("put", key, blob)
    }),
    check,
    size: Effect.succeed({})
  })
}

/**
 * Loads a backend's SDK. Each caller passes its own literal `import()`, so bundles keep the SDKs
 * external and neither the client nor a disk-only daemon ever loads one.
 */
export const loadSdk = <M>(backend: RemoteBackend, pkg: string, load: () => Promise<M>) =>
  Effect.tryPromise({
    try: load,
    catch: (cause) =>
      new StorageError({
        backend,
        op: "check",
        reason: "unavailable",
        message: `cannot load ${pkg} (is it installed next to sccache-ts?): ${describe(cause)}`,
        cause
      })
  })
