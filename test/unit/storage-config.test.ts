import { assert, describe, it } from "@effect/vitest"
import { type BackendSettings, normalizePrefix, parseBackendSettings } from "../../src/config/BackendConfig.ts"
import { ConfigError, type Env } from "../../src/config/Config.ts"

const parse = (env: Env): BackendSettings => {
  const parsed = parseBackendSettings(env)
  if (parsed instanceof ConfigError) throw new Error(`${parsed.variable}: ${parsed.message}`)
  return parsed
}
const remote = (env: Env) => parse(env).levels.find((l) => l !== "disk")
const kinds = (env: Env) => parse(env).levels.map((l) => (l === "disk" ? l : l.kind))
const rejects = (env: Env, variable: string) => {
  const parsed = parseBackendSettings(env)
  assert.instanceOf(parsed, ConfigError)
  assert.strictEqual((parsed as ConfigError).variable, variable)
}

describe("parseBackendSettings", () => {
  it("is the disk alone by default, and refuses SCCACHE_LOCAL_DISK=false without a remote", () => {
    assert.deepStrictEqual(parse({}), { levels: ["disk"], localReadOnly: false, ignored: [], lookupTimeoutMs: undefined })
    rejects({ SCCACHE_LOCAL_DISK: "false" }, "SCCACHE_LOCAL_DISK")
    rejects({ SCCACHE_LOCAL_DISK: "maybe" }, "SCCACHE_LOCAL_DISK")
    assert.deepStrictEqual(kinds({ SCCACHE_REDIS: "redis://h", SCCACHE_LOCAL_DISK: "0" }), ["redis"])
    assert.deepStrictEqual(kinds({ SCCACHE_REDIS: "redis://h" }), ["disk", "redis"])
  })

  it("reads the lookup timeout in seconds, fractions allowed", () => {
    assert.strictEqual(parse({ SCCACHE_REMOTE_LOOKUP_TIMEOUT: "2" }).lookupTimeoutMs, 2000)
    assert.strictEqual(parse({ SCCACHE_REMOTE_LOOKUP_TIMEOUT: "0.25" }).lookupTimeoutMs, 250)
    for (const bad of ["0", "-1", "5s", "1e3"]) rejects({ SCCACHE_REMOTE_LOOKUP_TIMEOUT: bad }, "SCCACHE_REMOTE_LOOKUP_TIMEOUT")
  })

  it("picks s3 > redis > memcached > gcs, as sccache, and names the ones it ignores", () => {
    const all = { SCCACHE_BUCKET: "b", SCCACHE_REDIS: "redis://h", SCCACHE_MEMCACHED: "tcp://h:1", SCCACHE_GCS_BUCKET: "g" }
    assert.deepInclude(parse(all), { ignored: ["redis", "memcached", "gcs"] })
    assert.strictEqual(remote(all)?.kind, "s3")
    assert.strictEqual(remote({ ...all, SCCACHE_BUCKET: undefined })?.kind, "redis")
    assert.strictEqual(remote({ SCCACHE_MEMCACHED: "tcp://h:1", SCCACHE_GCS_BUCKET: "g" })?.kind, "memcached")
    assert.strictEqual(remote({ SCCACHE_GCS_BUCKET: "g" })?.kind, "gcs")
    // A typo in a backend that loses is still an error.
    rejects({ ...all, SCCACHE_GCS_RW_MODE: "WRITE" }, "SCCACHE_GCS_RW_MODE")
  })

  it("normalizes key prefixes as sccache does", () => {
    assert.strictEqual(normalizePrefix("/team/ci/"), "team/ci")
    assert.strictEqual(normalizePrefix("//"), "")
    assert.strictEqual(normalizePrefix(undefined), "")
  })

  describe("S3", () => {
    it("reads the bucket, endpoint, region, prefix, mode and credentials", () => {
      assert.deepStrictEqual(
        remote({
          SCCACHE_BUCKET: "cache",
          SCCACHE_ENDPOINT: "minio.local:9000",
          SCCACHE_REGION: "eu-west-3",
          SCCACHE_S3_KEY_PREFIX: "ci/",
          SCCACHE_S3_RW_MODE: "READ_ONLY",
          AWS_ACCESS_KEY_ID: "AKIA",
          AWS_SECRET_ACCESS_KEY: "secret",
          AWS_SESSION_TOKEN: "token"
        }),
        {
          kind: "s3",
          bucket: "cache",
          endpoint: "https://minio.local:9000",
          region: "eu-west-3",
          credentials: { accessKeyId: "AKIA", secretAccessKey: "secret", sessionToken: "token" },
          keyPrefix: "ci",
          readOnly: true
        }
      )
    })

    it("uses http for a scheme-less endpoint with SCCACHE_S3_USE_SSL=false, and keeps explicit schemes", () => {
      assert.deepInclude(remote({ SCCACHE_BUCKET: "b", SCCACHE_ENDPOINT: "127.0.0.1:9000", SCCACHE_S3_USE_SSL: "false" }), {
        endpoint: "http://127.0.0.1:9000"
      })
      assert.deepInclude(remote({ SCCACHE_BUCKET: "b", SCCACHE_ENDPOINT: "http://h:1", SCCACHE_S3_USE_SSL: "true" }), {
        endpoint: "http://h:1"
      })
      rejects({ SCCACHE_BUCKET: "b", SCCACHE_S3_USE_SSL: "sometimes" }, "SCCACHE_S3_USE_SSL")
    })

    it("defaults to AWS itself, the region from AWS_REGION or us-east-1, the SDK's credential chain and read-write", () => {
      assert.deepStrictEqual(remote({ SCCACHE_BUCKET: "b" }), {
        kind: "s3",
        bucket: "b",
        endpoint: undefined,
        region: "us-east-1",
        credentials: "chain",
        keyPrefix: "",
        readOnly: false
      })
      assert.deepInclude(remote({ SCCACHE_BUCKET: "b", AWS_REGION: "ap-south-1" }), { region: "ap-south-1" })
    })

    it("goes unsigned with SCCACHE_S3_NO_CREDENTIALS, even with keys in the environment", () => {
      assert.deepInclude(remote({ SCCACHE_BUCKET: "b", SCCACHE_S3_NO_CREDENTIALS: "true", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s" }), {
        credentials: "anonymous"
      })
    })

    it("rejects a bad RW mode", () => rejects({ SCCACHE_BUCKET: "b", SCCACHE_S3_RW_MODE: "yes" }, "SCCACHE_S3_RW_MODE"))
  })

  describe("Redis", () => {
    it("parses redis://[[user]:pass@]host[:port][/db], decoding the password", () => {
      assert.deepStrictEqual(remote({ SCCACHE_REDIS: "redis://:s3cr3t%3A%2F%40@cache.local:6380/3" }), {
        kind: "redis",
        tls: false,
        host: "cache.local",
        port: 6380,
        username: undefined,
        password: "s3cr3t:/@",
        db: 3,
        expiration: 0,
        keyPrefix: "",
        readOnly: false
      })
      assert.deepInclude(remote({ SCCACHE_REDIS: "rediss://alice:pw@h" }), { tls: true, username: "alice", password: "pw", port: 6379, db: 0 })
      assert.deepInclude(remote({ SCCACHE_REDIS: "redis://[::1]:7000" }), { host: "::1", port: 7000 })
    })

    it("takes sccache's SCCACHE_REDIS_ENDPOINT with separate credentials and database", () => {
      assert.deepInclude(
        remote({
          SCCACHE_REDIS_ENDPOINT: "tcp://10.0.0.5:6379",
          SCCACHE_REDIS_USERNAME: "u",
          SCCACHE_REDIS_PASSWORD: "p",
          SCCACHE_REDIS_DB: "2",
          SCCACHE_REDIS_EXPIRATION: "3600",
          SCCACHE_REDIS_KEY_PREFIX: "/sccache/",
          SCCACHE_REDIS_RW_MODE: "READ_ONLY"
        }),
        { host: "10.0.0.5", port: 6379, username: "u", password: "p", db: 2, expiration: 3600, keyPrefix: "sccache", readOnly: true }
      )
      assert.deepInclude(remote({ SCCACHE_REDIS_ENDPOINT: "h:1" }), { host: "h", port: 1 })
      // sccache's older name for the expiration.
      assert.deepInclude(remote({ SCCACHE_REDIS: "redis://h", SCCACHE_REDIS_TTL: "60" }), { expiration: 60 })
    })

    it("rejects what it cannot use", () => {
      rejects({ SCCACHE_REDIS: "http://h" }, "SCCACHE_REDIS")
      rejects({ SCCACHE_REDIS: "redis://h:99999" }, "SCCACHE_REDIS")
      rejects({ SCCACHE_REDIS: "redis://h/x" }, "SCCACHE_REDIS")
      rejects({ SCCACHE_REDIS_ENDPOINT: "h", SCCACHE_REDIS_DB: "one" }, "SCCACHE_REDIS_DB")
      rejects({ SCCACHE_REDIS: "redis://h", SCCACHE_REDIS_EXPIRATION: "-1" }, "SCCACHE_REDIS_EXPIRATION")
    })
  })

  describe("Memcached", () => {
    it("parses a space-separated list of tcp:// servers, with sccache's default expiration of a day", () => {
      assert.deepStrictEqual(remote({ SCCACHE_MEMCACHED: "tcp://a:11211  tcp://b:11212 c" }), {
        kind: "memcached",
        servers: ["a:11211", "b:11212", "c:11211"],
        expiration: 86400,
        keyPrefix: "",
        readOnly: false
      })
      assert.deepInclude(
        remote({
          SCCACHE_MEMCACHED_ENDPOINT: "tcp://127.0.0.1:1",
          SCCACHE_MEMCACHED_EXPIRATION: "0",
          SCCACHE_MEMCACHED_KEY_PREFIX: "p",
          SCCACHE_MEMCACHED_RW_MODE: "read_only"
        }),
        { servers: ["127.0.0.1:1"], expiration: 0, keyPrefix: "p", readOnly: true }
      )
    })

    it("rejects bad servers, expirations memcached would read as dates, and prefixes with spaces", () => {
      rejects({ SCCACHE_MEMCACHED: "udp://a:1" }, "SCCACHE_MEMCACHED")
      rejects({ SCCACHE_MEMCACHED: "tcp://a:0" }, "SCCACHE_MEMCACHED")
      rejects({ SCCACHE_MEMCACHED: "tcp://a:1", SCCACHE_MEMCACHED_EXPIRATION: String(31 * 86400) }, "SCCACHE_MEMCACHED_EXPIRATION")
      rejects({ SCCACHE_MEMCACHED: "tcp://a:1", SCCACHE_MEMCACHED_KEY_PREFIX: "a b" }, "SCCACHE_MEMCACHED_KEY_PREFIX")
    })
  })

  describe("GCS", () => {
    it("is read-only unless SCCACHE_GCS_RW_MODE=READ_WRITE, as in sccache", () => {
      assert.deepStrictEqual(remote({ SCCACHE_GCS_BUCKET: "g" }), {
        kind: "gcs",
        bucket: "g",
        keyPath: undefined,
        endpoint: undefined,
        projectId: undefined,
        keyPrefix: "",
        readOnly: true
      })
      assert.deepInclude(
        remote({
          SCCACHE_GCS_BUCKET: "g",
          SCCACHE_GCS_RW_MODE: "READ_WRITE",
          SCCACHE_GCS_KEY_PATH: "/etc/sa.json",
          SCCACHE_GCS_KEY_PREFIX: "ci",
          SCCACHE_GCS_ENDPOINT: "http://127.0.0.1:4443",
          GOOGLE_CLOUD_PROJECT: "proj"
        }),
        { readOnly: false, keyPath: "/etc/sa.json", keyPrefix: "ci", endpoint: "http://127.0.0.1:4443", projectId: "proj" }
      )
    })

    it("rejects a bad endpoint", () => rejects({ SCCACHE_GCS_BUCKET: "g", SCCACHE_GCS_ENDPOINT: "not a url" }, "SCCACHE_GCS_ENDPOINT"))
  })
})
