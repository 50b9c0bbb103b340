import { Effect } from "effect"
import type { RedisSettings } from "../config/BackendConfig.ts"
import type { StorageFailure } from "./Storage.ts"
import { asBuffer, BlobTooLarge, loadSdk, makeRemoteStorage, networkFailure, type RemoteOptions, resolveMaxBlob, resolveTimeouts } from "./RemoteStorage.ts"

/** `Redis: redis://host:port/db`, as sccache prints it; credentials never appear. */
const redisLocation = (s: RedisSettings): string =>
  `Redis: ${s.tls ? "rediss" : "redis"}://${s.host.includes(":") ? `[${s.host}]` : s.host}:${s.port}/${s.db}`

/** How ioredis fails a command while it has no connection. */
const DISCONNECTED = /Connection is closed|Stream isn't writeable|Reached the max retries/i

const classify = (cause: unknown): StorageFailure => {
  const message = cause instanceof Error ? cause.message : String(cause)
  if (/\b(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) return "auth"
  if (/Command timed out/.test(message)) return "timeout"
  return networkFailure(cause) ?? (DISCONNECTED.test(message) ? "unavailable" : "io")
}

/** A Redis-backed Storage (ioredis), one pooled connection for the daemon's life. */
export const makeRedisStorage = Effect.fnUntraced(function*(settings: RedisSettings, options?: RemoteOptions) {
  const { Redis } = yield* loadSdk("redis", "ioredis", () => import("ioredis"))
  const timeouts = resolveTimeouts(options)
  const location = redisLocation(settings)
  // While the connection is down, commands fail with a generic DISCONNECTED message; the
  // `'error'` event has the real cause (WRONGPASS, ECONNREFUSED). Listening also stops ioredis
  // printing it.
  let lastError: Error | undefined
  const { redis, firstAttempt } = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis({
        host: settings.host,
        port: settings.port,
        db: settings.db,
        ...(settings.username === undefined ? {} : { username: settings.username }),
        ...(settings.password === undefined ? {} : { password: settings.password }),
        ...(settings.tls ? { tls: {} } : {}),
        // While disconnected, commands fail at once instead of queueing for the next reconnect
        // (which ioredis keeps trying in the background); a hung server fails them after
        // commandTimeout. The defaults would hold a command for over a minute.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: timeouts.check,
        commandTimeout: Math.max(timeouts.get, timeouts.put),
        retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000)
      })
      redis.on("error", (e: Error) => {
        lastError = e
      })
      redis.on("ready", () => {
        lastError = undefined
      })
      // Without the offline queue, a command sent before the first connection is up would fail
      // for nothing: the first ones wait for that attempt's outcome (within their own timeout).
      const firstAttempt = new Promise<void>((resolve) => {
        for (const event of ["ready", "error", "close", "end"]) redis.once(event, () => resolve())
      })
      return { redis, firstAttempt }
    }),
    ({ redis }) => Effect.sync(() => redis.disconnect())
  )
  const withCause = (e: unknown) =>
    e instanceof Error && e.name !== "ReplyError" && lastError !== undefined && lastError !== e
      ? Object.assign(new Error(`${e.message} (${lastError.message})`), { cause: lastError })
      : e
  return makeRemoteStorage({
    backend: "redis",
    location,
    keyPrefix: settings.keyPrefix,
    readOnly: settings.readOnly,
    timeouts,
    classify,
    // GETRANGE sends at most one byte past the bound, whatever size the value has grown to;
    // an empty value (which no entry is) reads as a missing one.
    read: (key, _signal, max) =>
      firstAttempt.then(() => redis.getrangeBuffer(key, 0, max)).then((v) => {
        if (v.length > max) throw new BlobTooLarge(undefined, max)
        return v.length === 0 ? undefined : v
      }, (e) => Promise.reject(withCause(e))),
    write: (key, blob) => {
      const value = asBuffer(blob)
      return firstAttempt.then(() =>
        settings.expiration > 0 ? redis.set(key, value, "EX", settings.expiration) : redis.set(key, value)
      ).then(() => undefined, (e) => Promise.reject(withCause(e)))
    }
  }, options?.backoff, resolveMaxBlob(options))
})
