import { Effect } from "effect"
import type { MemcachedSettings } from "../config/BackendConfig.ts"
import type { StorageFailure } from "./Storage.ts"
import { asBuffer, loadSdk, makeRemoteStorage, networkFailure, type RemoteOptions, resolveMaxBlob, resolveTimeouts } from "./RemoteStorage.ts"

const memcachedLocation = (s: MemcachedSettings): string =>
  `Memcached: ${s.servers.map((server) => `tcp://${server}`).join(" ")}`

const classify = (cause: unknown): StorageFailure => {
  const message = cause instanceof Error ? cause.message : String(cause)
  // The server's item size limit (`-I`): the entry is not cached, which is not a failure.
  if (/Value too large/i.test(message)) return "too-large"
  if (/timed out/i.test(message)) return "timeout"
  return networkFailure(cause) ?? "io"
}

/** A memcached-backed Storage (memjs, binary protocol); keys spread over the servers by hash. */
export const makeMemcachedStorage = Effect.fnUntraced(function*(settings: MemcachedSettings, options?: RemoteOptions) {
  const { Client } = yield* loadSdk("memcached", "memjs", () => import("memjs"))
  const timeouts = resolveTimeouts(options)
  const client = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Client.create(settings.servers.join(","), {
        expires: settings.expiration,
        // One quick retry reconnects after a server restart; more would only stretch an outage.
        retries: 1,
        retry_delay: 0.05,
        timeout: Math.max(timeouts.get, timeouts.put) / 1000,
        conntimeout: timeouts.check / 1000,
        // memjs logs every failed call to the console; failures reach us as errors instead.
        logger: { log: () => undefined }
      })
    ),
    (c) => Effect.sync(() => c.close())
  )
  return makeRemoteStorage({
    backend: "memcached",
    location: memcachedLocation(settings),
    keyPrefix: settings.keyPrefix,
    readOnly: settings.readOnly,
    timeouts,
    classify,
    // memjs reads a value whole (the server's item size limit, `-I`, bounds it); the bound is checked after.
    read: (key) => client.get(key).then(({ value }) => value ?? undefined),
    write: (key, blob) => client.set(key, asBuffer(blob), { expires: settings.expiration }).then(() => undefined)
  }, options?.backoff, resolveMaxBlob(options))
})
