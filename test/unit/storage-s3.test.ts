import { assert, describe, it } from "@effect/vitest"
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { Effect } from "effect"
import { inject } from "vitest"
import type { S3Settings } from "../../src/config/BackendConfig.ts"
import { makeS3Storage, PART_SIZE } from "../../src/storage/S3Storage.ts"
import { startS3Server } from "../support/s3-server.ts"
import { blob, key, prefix, settingsFrom, storageContract } from "../support/storage-contract.ts"

const backends = inject("backends")
const address = new URL(backends.s3Endpoint).host
const credentials = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" }

const lister = new S3Client({
  endpoint: backends.s3Endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" }
})

storageContract<S3Settings>({
  name: "s3",
  address,
  env: (addr, o) => ({
    ...credentials,
    SCCACHE_BUCKET: backends.s3Bucket,
    SCCACHE_ENDPOINT: `http://${addr}`,
    SCCACHE_S3_KEY_PREFIX: o.keyPrefix,
    SCCACHE_S3_RW_MODE: o.readOnly ? "READ_ONLY" : "READ_WRITE"
  }),
  open: makeS3Storage,
  startPrivate: async (port) => {
    const server = await startS3Server(port === undefined ? {} : { port })
    await server.createBucket(backends.s3Bucket)
    return { port: server.port, kill: server.stop }
  },
  rawKeys: async (p) => {
    const listed = await lister.send(new ListObjectsV2Command({ Bucket: backends.s3Bucket, Prefix: `${p}/` }))
    return (listed.Contents ?? []).map((o) => o.Key!)
  }
})

describe("s3 specifics", () => {
  it.live("uploads entries larger than a part in several parts (fauxqs takes at most 11 MiB per request)", () =>
    Effect.gen(function*() {
      const storage = yield* makeS3Storage(settingsFrom<S3Settings>({
        ...credentials,
        SCCACHE_BUCKET: backends.s3Bucket,
        SCCACHE_ENDPOINT: backends.s3Endpoint,
        SCCACHE_S3_KEY_PREFIX: prefix()
      }))
      const k = key()
      const data = blob(2 * PART_SIZE + 12345)
      yield* storage.put(k, data)
      const back = yield* storage.get(k)
      assert.isTrue(Buffer.from(back!).equals(Buffer.from(data)), "bytes differ")
    }), 20_000)

  it.live("works unsigned with SCCACHE_S3_NO_CREDENTIALS, and with a scheme-less endpoint and SCCACHE_S3_USE_SSL=false", () =>
    Effect.gen(function*() {
      const settings = settingsFrom<S3Settings>({
        SCCACHE_BUCKET: backends.s3Bucket,
        SCCACHE_ENDPOINT: address,
        SCCACHE_S3_USE_SSL: "false",
        SCCACHE_S3_NO_CREDENTIALS: "true",
        SCCACHE_S3_KEY_PREFIX: "anon"
      })
      assert.strictEqual(settings.credentials, "anonymous")
      const storage = yield* makeS3Storage(settings)
      assert.strictEqual(storage.location, `S3, bucket: ${backends.s3Bucket}, prefix: anon, endpoint: http://${address}`)
      assert.strictEqual(yield* storage.check, "read-write")
      const k = key()
      yield* storage.put(k, blob(10))
      assert.isDefined(yield* storage.get(k))
    }), 10_000)
})
