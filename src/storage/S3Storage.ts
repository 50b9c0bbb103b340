import { Effect } from "effect"
import type { S3Settings } from "../config/BackendConfig.ts"
import type { StorageFailure } from "./Storage.ts"
import {
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

/** Larger entries go up in parts of this size: S3 wants ≥ 5 MiB parts, and one request stays small. */
export const PART_SIZE = 8 * 1024 * 1024
const PARALLEL_PARTS = 4

const AUTH_ERRORS = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "CredentialsProviderError",
  "ExpiredToken",
  "InvalidAccessKeyId",
  "InvalidToken",
  "SignatureDoesNotMatch"
])

const classify = (cause: unknown): StorageFailure => {
  const e = cause as { name?: string; $metadata?: { httpStatusCode?: number } } | null
  if (AUTH_ERRORS.has(e?.name ?? "")) return "auth"
  if (e?.name === "EntityTooLarge") return "too-large"
  if (e?.name === "TimeoutError" || e?.name === "RequestTimeout") return "timeout"
  return httpFailure(e?.$metadata?.httpStatusCode) ?? networkFailure(cause) ?? "io"
}

const isMissing = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } } | null
  return err?.name === "NoSuchKey" || err?.name === "NotFound" || err?.$metadata?.httpStatusCode === 404
}

/** An S3 (or S3-compatible) Storage; one client, whose keep-alive connections serve every compile. */
export const makeS3Storage = Effect.fnUntraced(function*(settings: S3Settings, options?: RemoteOptions) {
  const sdk = yield* loadSdk("s3", "@aws-sdk/client-s3", () => import("@aws-sdk/client-s3"))
  const timeouts = resolveTimeouts(options)
  const s3 = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new sdk.S3Client({
        region: settings.region,
        ...(settings.endpoint === undefined ? {} : {
          endpoint: settings.endpoint,
          // Custom endpoints (MinIO, localhost) rarely have per-bucket DNS names.
          forcePathStyle: true
        }),
        ...(typeof settings.credentials === "object" ? { credentials: settings.credentials } : {}),
        ...(settings.credentials === "anonymous"
          ? {
            // Unsigned requests: a no-op signer alone still resolves credentials (and fails) first.
            httpAuthSchemes: [{
              schemeId: "smithy.api#noAuth",
              identityProvider: () => async () => ({}),
              signer: { sign: async (request: any) => request }
            }],
            httpAuthSchemeProvider: () => [{ schemeId: "smithy.api#noAuth" }]
          }
          : {}),
        maxAttempts: 2,
        requestHandler: { connectionTimeout: timeouts.check, requestTimeout: timeouts.put, throwOnRequestTimeout: true }
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const Bucket = settings.bucket

  const putMultipart = async (Key: string, blob: Uint8Array, abortSignal: AbortSignal) => {
    const { UploadId } = await s3.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal })
    try {
      const starts = Array.from({ length: Math.ceil(blob.length / PART_SIZE) }, (_, i) => i * PART_SIZE)
      const parts: Array<{ PartNumber: number; ETag: string | undefined }> = []
      for (let i = 0; i < starts.length; i += PARALLEL_PARTS) {
        parts.push(
          ...(await Promise.all(starts.slice(i, i + PARALLEL_PARTS).map(async (start) => {
            const PartNumber = start / PART_SIZE + 1
            const { ETag } = await s3.send(
              new sdk.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: blob.subarray(start, start + PART_SIZE) }),
              { abortSignal }
            )
            return { PartNumber, ETag }
          })))
        )
      }
      await s3.send(
        new sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal }
      )
    } catch (e) {
      // Unfinished uploads are billed until aborted; best effort, as the server may be the problem.
      await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined)
      throw e
    }
  }

  return makeRemoteStorage({
    backend: "s3",
    location: bucketLocation("S3", settings),
    keyPrefix: settings.keyPrefix,
    readOnly: settings.readOnly,
    timeouts,
    classify,
    read: async (Key, abortSignal, max) => {
      try {
        const { Body, ContentLength } = await s3.send(new sdk.GetObjectCommand({ Bucket, Key }), { abortSignal })
        return Body === undefined ? new Uint8Array() : await readBounded(Body as unknown as Parameters<typeof readBounded>[0], max, ContentLength)
      } catch (e) {
        if (isMissing(e)) return undefined
        throw e
      }
    },
    write: async (Key, blob, abortSignal) => {
      if (blob.length > PART_SIZE) return putMultipart(Key, blob, abortSignal)
      await s3.send(new sdk.PutObjectCommand({ Bucket, Key, Body: blob }), { abortSignal })
    }
  }, options?.backoff, resolveMaxBlob(options))
})
