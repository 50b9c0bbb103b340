import { Effect } from "effect"
import * as fs from "node:fs/promises"
import type { GcsSettings } from "../config/BackendConfig.ts"
import type { StorageFailure } from "./Storage.ts"
import {
  asBuffer,
  bucketLocation,
  httpFailure,
  loadSdk,
  makeRemoteStorage,
  networkFailure,
  readBounded,
  type RemoteOptions,
  resolveMaxBlob,
  resolveTimeouts
} from "./RemoteStorage.ts"

/**
 * Object calls need no project, but the client looks one up (probing the GCE metadata server)
 * for anything it lacks; any name stops that.
 */
const PLACEHOLDER_PROJECT = "sccache-ts"

const statusOf = (cause: unknown): number | undefined => {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === "number" ? code : undefined
}

const classify = (cause: unknown): StorageFailure => httpFailure(statusOf(cause)) ?? networkFailure(cause) ?? "io"

/** The service account's own project, if the key file names one. */
const projectOfKeyFile = (keyPath: string): Promise<string | undefined> =>
  fs.readFile(keyPath, "utf8").then(
    (text) => {
      const id = (JSON.parse(text) as { project_id?: unknown }).project_id
      return typeof id === "string" ? id : undefined
    },
    // Unreadable here means unreadable for the client too, which then reports why on first use.
    () => undefined
  )

/** A Google Cloud Storage Storage (JSON API); single-request uploads, as entries are small. */
export const makeGcsStorage = Effect.fnUntraced(function*(settings: GcsSettings, options?: RemoteOptions) {
  const sdk = yield* loadSdk("gcs", "@google-cloud/storage", () => import("@google-cloud/storage"))
  const timeouts = resolveTimeouts(options)
  const projectId = settings.projectId ??
    (settings.keyPath === undefined ? undefined : yield* Effect.promise(() => projectOfKeyFile(settings.keyPath!))) ??
    PLACEHOLDER_PROJECT
  const bucket = new sdk.Storage({
    projectId,
    ...(settings.keyPath === undefined ? {} : { keyFilename: settings.keyPath }),
    ...(settings.endpoint === undefined ? {} : { apiEndpoint: settings.endpoint }),
    timeout: Math.max(timeouts.get, timeouts.put),
    retryOptions: { maxRetries: 1, totalTimeout: Math.max(timeouts.get, timeouts.put) / 1000 }
  }).bucket(settings.bucket)
  return makeRemoteStorage({
    backend: "gcs",
    location: bucketLocation("GCS", settings),
    keyPrefix: settings.keyPrefix,
    readOnly: settings.readOnly,
    timeouts,
    classify,
    // Streamed, so a value past the bound is dropped after `max` bytes instead of downloaded whole.
    read: (key, _signal, max) =>
      readBounded(bucket.file(key).createReadStream(), max).then(
        (blob) => blob,
        (e) => (statusOf(e) === 404 ? undefined : Promise.reject(e))
      ),
    // One request (`resumable: false`) instead of a session and its chunks.
    write: (key, blob) =>
      bucket.file(key).save(asBuffer(blob), {
        resumable: false,
        contentType: "application/octet-stream"
      })
  }, options?.backoff, resolveMaxBlob(options))
})
