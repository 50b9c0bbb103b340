import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { inject } from "vitest"
import type { GcsSettings } from "../../src/config/BackendConfig.ts"
import { makeGcsStorage } from "../../src/storage/GcsStorage.ts"
import { crc32c, startGcsEmulator } from "../support/gcs-emulator.ts"
import { blob, key, prefix, settingsFrom, storageContract } from "../support/storage-contract.ts"

const backends = inject("backends")
const address = new URL(backends.gcsEndpoint).host

storageContract<GcsSettings>({
  name: "gcs",
  address,
  env: (addr, o) => ({
    SCCACHE_GCS_BUCKET: backends.gcsBucket,
    SCCACHE_GCS_ENDPOINT: `http://${addr}`,
    SCCACHE_GCS_KEY_PREFIX: o.keyPrefix,
    SCCACHE_GCS_RW_MODE: o.readOnly ? "READ_ONLY" : "READ_WRITE"
  }),
  open: makeGcsStorage,
  startPrivate: async (port) => {
    const emulator = await startGcsEmulator(port === undefined ? {} : { port })
    emulator.createBucket(backends.gcsBucket)
    return { port: emulator.port, kill: emulator.stop }
  },
  rawKeys: async (p) => {
    const res = await fetch(`${backends.gcsEndpoint}/storage/v1/b/${backends.gcsBucket}/o?prefix=${encodeURIComponent(`${p}/`)}`)
    const listed = (await res.json()) as { items?: Array<{ name: string }> }
    return (listed.items ?? []).map((o) => o.name)
  }
})

describe("gcs specifics", () => {
  it("the emulator's checksum is CRC-32C (Castagnoli)", () => {
    assert.strictEqual(crc32c(new TextEncoder().encode("123456789")), 0xe3069283)
  })

  it.live("is read-only unless SCCACHE_GCS_RW_MODE says READ_WRITE, as in sccache", () =>
    Effect.gen(function*() {
      const storage = yield* makeGcsStorage(settingsFrom<GcsSettings>({
        SCCACHE_GCS_BUCKET: backends.gcsBucket,
        SCCACHE_GCS_ENDPOINT: backends.gcsEndpoint
      }))
      assert.strictEqual(yield* storage.check, "read-only")
      assert.strictEqual(storage.location, `GCS, bucket: ${backends.gcsBucket}, endpoint: ${backends.gcsEndpoint}`)
    }), 10_000)

  it.live("takes a service-account key file from SCCACHE_GCS_KEY_PATH", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "sccache-gcs-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const keyPath = path.join(dir, "key.json")
      yield* Effect.promise(() =>
        fs.writeFile(keyPath, JSON.stringify({
          type: "service_account",
          project_id: "from-key-file",
          client_email: "cache@from-key-file.iam.gserviceaccount.com",
          private_key: "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n"
        }))
      )
      const storage = yield* makeGcsStorage(settingsFrom<GcsSettings>({
        SCCACHE_GCS_BUCKET: backends.gcsBucket,
        SCCACHE_GCS_ENDPOINT: backends.gcsEndpoint,
        SCCACHE_GCS_KEY_PATH: keyPath,
        SCCACHE_GCS_RW_MODE: "READ_WRITE",
        SCCACHE_GCS_KEY_PREFIX: prefix()
      }))
      // A custom endpoint gets no auth header, so the fake key is never used to sign.
      const k = key()
      yield* storage.put(k, blob(1000))
      assert.isDefined(yield* storage.get(k))
    }), 10_000)
})
