/**
 * Remote storage through real daemons and make. Two "machines" (sandboxes with their own cache
 * directory and daemon) share one remote: the second builds examples/c-project from an empty disk
 * with every object from the remote, for each backend. Then the failure semantics, each against a
 * real server: down at start, killed mid-build, hanging, wrong password, too-large value. A build
 * always completes with a plain build's outputs, the failure is counted, and the daemon uses the
 * remote again once the server is back.
 *
 * Builds and stats calls run asynchronously: the S3 and GCS servers of these tests live in this
 * process, and a blocked event loop would look like a hanging server to the daemons.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest"
import type { RemoteBackend } from "../../src/config/BackendConfig.ts"
import type { LevelCounters } from "../../src/stats/Stats.ts"
import { startGcsEmulator } from "../support/gcs-emulator.ts"
import { BIN, copyCProject, makeSandbox, ROOT, run, runAsync, type Sandbox, type StatsJson, total } from "../support/harness.ts"
import { freePort, startHangingServer, startMemcached, startRedis } from "../support/processes.ts"
import { startS3Server } from "../support/s3-server.ts"

const backends = inject("backends")
const KINDS: ReadonlyArray<RemoteBackend> = ["s3", "gcs", "redis", "memcached"]
const SOURCES = ["words", "checksum", "stats", "main"]
/** Flags no build before it used: after an outage, the proof that the remote stores and serves again. */
const VARIANT = "CFLAGS=-O1 -Wall"
/** What any build here may take, outages included; the tests' own limits leave room for setup. */
const BUILD_LIMIT_MS = 20_000

/** Daemons connect to loopback only, as the tests do: the network guard is preloaded in every Node process. */
const GUARD = { NODE_OPTIONS: `--import=${path.join(ROOT, "test", "support", "network-guard.ts")}` }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** sccache's variables for a backend whose server is at `address` (host:port), under `prefix`. */
const remoteEnv = (kind: RemoteBackend, address: string, prefix: string): NodeJS.ProcessEnv => {
  switch (kind) {
    case "s3":
      return {
        SCCACHE_BUCKET: backends.s3Bucket,
        SCCACHE_ENDPOINT: `http://${address}`,
        SCCACHE_S3_KEY_PREFIX: prefix,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test"
      }
    case "gcs":
      return {
        SCCACHE_GCS_BUCKET: backends.gcsBucket,
        SCCACHE_GCS_ENDPOINT: `http://${address}`,
        SCCACHE_GCS_RW_MODE: "READ_WRITE",
        SCCACHE_GCS_KEY_PREFIX: prefix,
        GOOGLE_CLOUD_PROJECT: "test"
      }
    case "redis":
      return { SCCACHE_REDIS: `redis://${address}`, SCCACHE_REDIS_KEY_PREFIX: prefix }
    case "memcached":
      return { SCCACHE_MEMCACHED: `tcp://${address}`, SCCACHE_MEMCACHED_KEY_PREFIX: prefix }
  }
}

const sharedAddress: Record<RemoteBackend, string> = {
  s3: new URL(backends.s3Endpoint).host,
  gcs: new URL(backends.gcsEndpoint).host,
  redis: new URL(backends.redisUrl).host,
  memcached: new URL(backends.memcachedUrl).host
}

/** What "Cache location" names after the disk. */
const LOCATION: Record<RemoteBackend, RegExp> = {
  s3: /; S3, bucket: sccache-test, prefix: t-\w+, endpoint: http:\/\/127\.0\.0\.1:\d+$/,
  gcs: /; GCS, bucket: sccache-test, prefix: t-\w+, endpoint: http:\/\/127\.0\.0\.1:\d+$/,
  redis: /; Redis: redis:\/\/127\.0\.0\.1:\d+\/0$/,
  memcached: /; Memcached: tcp:\/\/127\.0\.0\.1:\d+$/
}

interface Server {
  readonly port: number
  /** As a crash where the server allows one: SIGKILL, or closing every connection. */
  readonly kill: () => Promise<void>
}

/** A private server of `kind` for one test, on `port` when it comes back. */
const startServer = async (kind: RemoteBackend, port?: number, opts: { password?: string; maxItemSize?: string } = {}): Promise<Server> => {
  const at = port === undefined ? {} : { port }
  switch (kind) {
    case "s3": {
      const s3 = await startS3Server(at)
      await s3.createBucket(backends.s3Bucket)
      return { port: s3.port, kill: s3.stop }
    }
    case "gcs": {
      const gcs = await startGcsEmulator(at)
      gcs.createBucket(backends.gcsBucket)
      return { port: gcs.port, kill: gcs.stop }
    }
    case "redis":
      return startRedis({ ...at, ...(opts.password === undefined ? {} : { password: opts.password }) })
    case "memcached":
      return startMemcached({ ...at, ...(opts.maxItemSize === undefined ? {} : { maxItemSize: opts.maxItemSize }) })
  }
}

interface Machine extends Sandbox {
  /** The remote's variables, for a second machine on the same remote. */
  readonly remote: NodeJS.ProcessEnv
}

const machines: Array<Machine> = []
const servers: Array<Server> = []
const machine = (remote: NodeJS.ProcessEnv): Machine => {
  const m = { ...makeSandbox({ ...GUARD, ...remote }), remote }
  machines.push(m)
  return m
}
const server = async (...args: Parameters<typeof startServer>) => {
  const s = await startServer(...args)
  servers.push(s)
  return s
}
afterEach(async () => {
  // Daemons first: stopping, they let uploads to these servers finish.
  await Promise.all(machines.splice(0).map((m) => runAsync(BIN, ["--stop-server"], { cwd: m.dir, env: m.env })))
  await Promise.all(servers.splice(0).map((s) => s.kill()))
})

const stats = async (m: Machine): Promise<StatsJson["stats"] & { location: string }> => {
  const r = await runAsync(BIN, ["--show-stats", "--stats-format", "json"], { cwd: m.dir, env: m.env })
  const json = JSON.parse(r.stdout.toString()) as StatsJson
  return { ...json.stats, location: json.cache_location }
}

const NO_COUNTS: LevelCounters = { hits: 0, misses: 0, errors: 0, timeouts: 0, writes: 0, writeErrors: 0, tooLarge: 0 }
const level = async (m: Machine, name: string): Promise<LevelCounters> => (await stats(m)).levels[name] ?? NO_COUNTS

/** Polls `check` until it holds, for at most `ms`. */
const until = async (what: string, ms: number, check: () => Promise<boolean>) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(100)
  }
}

/** `make -j2` of the project at `dir` through sccache-ts; it must succeed within BUILD_LIMIT_MS. */
const build = async (m: Machine, dir: string, opts: { cc?: string; make?: ReadonlyArray<string> } = {}) => {
  const started = Date.now()
  const r = await runAsync("make", ["-j2", `CC=${BIN} ${opts.cc ?? "gcc"}`, ...(opts.make ?? [])], { cwd: dir, env: m.env })
  const ms = Date.now() - started
  expect(r.code, r.stderr.toString()).toBe(0)
  expect(ms, "the build took too long").toBeLessThan(BUILD_LIMIT_MS)
}

/** Plain `make` builds, the references: default flags, and the variant. */
const plain = { default: "", variant: "" }
beforeAll(() => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sct-plain-"))
  for (const [name, make] of [["default", []], ["variant", [VARIANT]]] as const) {
    const dir = copyCProject(path.join(root, name))
    const r = run("make", ["-j2", "CC=gcc", ...make], { cwd: dir })
    expect(r.code, r.stderr.toString()).toBe(0)
    plain[name] = dir
  }
})

/** Every object and dependency file of `dir` is the plain build's, byte for byte. */
const expectPlainOutputs = (dir: string, reference: string, sources: ReadonlyArray<string> = SOURCES) => {
  for (const s of sources) {
    for (const ext of [".o", ".d"]) {
      const file = path.join("build", s + ext)
      expect(fs.readFileSync(path.join(dir, file)).equals(fs.readFileSync(path.join(reference, file))), file).toBe(true)
    }
  }
}

/** Direct mode stores a result and a manifest per compile. */
const ENTRIES_PER_COMPILE = 2

/**
 * Waits until the cache writes that run after the replies are over, and every upload of `m` is
 * done, failed or skipped: on a machine that never had a remote hit (those are copied to the disk
 * only), each disk write has one. Over means: no counter moved between two polls.
 */
const uploadsSettled = async (m: Machine, kind: RemoteBackend) => {
  let last = ""
  await until(`the uploads to ${kind}`, 10_000, async () => {
    const { levels } = await stats(m)
    const remote = levels[kind] ?? NO_COUNTS
    const now = JSON.stringify(levels)
    const settled = now === last && remote.writes + remote.writeErrors + remote.tooLarge === (levels["disk"] ?? NO_COUNTS).writes
    last = now
    return settled
  })
}

const prefix = () => `t-${randomBytes(6).toString("hex")}`

/**
 * The server is back (or never left): within the breaker's backoff a lookup reaches it again, a
 * build with new flags is stored there with no new errors, and a fresh machine gets all of it.
 */
const expectRecovery = async (m: Machine, kind: RemoteBackend) => {
  // Each probe is a lookup: skipped while the breaker is open, then a trial that the server answers.
  const first = await level(m, kind)
  let probe = 0
  await until(`the daemon uses the ${kind} server again`, 40_000, async () => {
    m.write(`probe${probe}.c`, `int probe${probe}(void) { return ${probe}; }\n`)
    const r = await runAsync(BIN, ["gcc", "-c", `probe${probe}.c`], { cwd: m.dir, env: m.env })
    expect(r.code).toBe(0)
    probe++
    const now = await level(m, kind)
    return now.misses > first.misses
  })
  await uploadsSettled(m, kind)
  const before = await level(m, kind)
  await build(m, copyCProject(path.join(m.dir, "after")), { make: [VARIANT] })
  await uploadsSettled(m, kind)
  const after = await level(m, kind)
  expect(after.errors + after.timeouts).toBe(before.errors + before.timeouts)
  expect(after.writes - before.writes).toBe(SOURCES.length * ENTRIES_PER_COMPILE)
  const other = machine(m.remote)
  const dir = copyCProject(path.join(other.dir, "after"))
  await build(other, dir, { make: [VARIANT] })
  const s = await stats(other)
  expect(total(s.cache_hits)).toBe(SOURCES.length)
  expect(total(s.cache_misses)).toBe(0)
  expectPlainOutputs(dir, plain.variant)
}

/** Lookups and writes of `l` that failed or were skipped. */
const failures = (l: LevelCounters) => l.errors + l.timeouts + l.writeErrors

describe.each(KINDS)("two machines sharing %s", (kind) => {
  it("the second builds from an empty disk with all hits from the remote, byte-identical to plain make", async () => {
    const a = machine(remoteEnv(kind, sharedAddress[kind], prefix()))
    const dirA = copyCProject(path.join(a.dir, "proj"))
    await build(a, dirA)
    const sa = await stats(a)
    expect(total(sa.cache_misses)).toBe(SOURCES.length)
    expect(sa.location).toMatch(LOCATION[kind])
    // The uploads run after the replies: B starts once they are all in.
    await uploadsSettled(a, kind)
    expect(await level(a, kind)).toMatchObject({ writes: SOURCES.length * ENTRIES_PER_COMPILE, writeErrors: 0 })

    const b = machine(a.remote)
    const dirB = copyCProject(path.join(b.dir, "proj"))
    await build(b, dirB)
    const sb = await stats(b)
    expect(total(sb.cache_hits)).toBe(SOURCES.length)
    expect(total(sb.direct_hits)).toBe(SOURCES.length)
    expect(total(sb.cache_misses)).toBe(0)
    // Every manifest and result came from the remote, and was copied to B's disk.
    expect(sb.levels[kind]).toMatchObject({ hits: SOURCES.length * ENTRIES_PER_COMPILE, misses: 0, errors: 0, timeouts: 0 })
    expect(sb.levels["disk"]).toMatchObject({ hits: 0, misses: SOURCES.length * ENTRIES_PER_COMPILE, writes: SOURCES.length * ENTRIES_PER_COMPILE })
    expectPlainOutputs(dirA, plain.default)
    expectPlainOutputs(dirB, plain.default)
    expect(run(path.join(dirB, "build", "demo"), [], { cwd: dirB }).stdout.toString()).toBe("6 words, checksum 2a7b0737, mean 2.50\n")
  }, 60_000)
})

describe.each(KINDS)("%s failures through the daemon", (kind) => {
  it("server down at daemon start: the build caches on disk, counts the errors, and uses the server once it is up", async () => {
    const port = await freePort()
    const a = machine(remoteEnv(kind, `127.0.0.1:${port}`, prefix()))
    const dir = copyCProject(path.join(a.dir, "proj"))
    await build(a, dir)
    expectPlainOutputs(dir, plain.default)
    await uploadsSettled(a, kind)
    const s = await stats(a)
    expect(total(s.cache_misses)).toBe(SOURCES.length)
    // The start probe, then every lookup: failed fast, or skipped by the breaker.
    expect(s.levels[kind]!.errors).toBeGreaterThanOrEqual(1 + SOURCES.length)
    expect(s.levels["disk"]!.writes).toBe(SOURCES.length * ENTRIES_PER_COMPILE)
    await server(kind, port)
    await expectRecovery(a, kind)
  }, 90_000)

  it("server killed in the middle of a build: the build completes, the failures are counted, and it recovers", async () => {
    const first = await server(kind)
    const a = machine(remoteEnv(kind, `127.0.0.1:${first.port}`, prefix()))
    // Slow compiles, so the build is still running when the server dies.
    const slow = a.write("slowcc", `#!/bin/sh\ncase " $* " in *" -c "*) sleep 0.5;; esac\nexec gcc "$@"\n`)
    fs.chmodSync(slow, 0o755)
    const dir = copyCProject(path.join(a.dir, "proj"))
    const building = build(a, dir, { cc: slow })
    await until("the first upload", 15_000, async () => (await level(a, kind)).writes >= 1)
    await first.kill()
    await building
    expectPlainOutputs(dir, plain.default)
    await uploadsSettled(a, kind)
    const s = await stats(a)
    expect(total(s.cache_misses)).toBe(SOURCES.length)
    expect(failures(s.levels[kind]!)).toBeGreaterThanOrEqual(1)
    await server(kind, first.port)
    await expectRecovery(a, kind)
  }, 90_000)

  it("server that accepts and never answers: each window costs one timeout, the rest is skipped, and it recovers", async () => {
    const hanging = await startHangingServer()
    const a = machine({ ...remoteEnv(kind, `127.0.0.1:${hanging.port}`, prefix()), SCCACHE_REMOTE_LOOKUP_TIMEOUT: "1" })
    const dir = copyCProject(path.join(a.dir, "proj"))
    try {
      await build(a, dir)
      expectPlainOutputs(dir, plain.default)
      const l = (await stats(a)).levels[kind]!
      // The start probe timed out, and so did the breaker's trials, if the build outlasted a
      // window; every other lookup was skipped at once, counted as an error.
      expect(l.timeouts).toBeGreaterThanOrEqual(1)
      expect(l.timeouts).toBeLessThanOrEqual(3)
      expect(l.errors).toBeGreaterThanOrEqual(SOURCES.length)
    } finally {
      await hanging.close()
    }
    await server(kind, hanging.port)
    await expectRecovery(a, kind)
  }, 90_000)
})

describe("redis: wrong password", () => {
  it("every lookup fails fast as an error, the build completes, and it recovers when the server takes the password", async () => {
    const first = await server("redis", undefined, { password: "right" })
    const a = machine({ SCCACHE_REDIS: `redis://:wrong@127.0.0.1:${first.port}`, SCCACHE_REDIS_KEY_PREFIX: prefix() })
    const dir = copyCProject(path.join(a.dir, "proj"))
    await build(a, dir)
    expectPlainOutputs(dir, plain.default)
    const l = (await stats(a)).levels["redis"]!
    // An answer, so the breaker stays closed: the probe and every lookup reached the server.
    expect(l).toMatchObject({ timeouts: 0, writes: 0 })
    expect(l.errors).toBeGreaterThanOrEqual(1 + SOURCES.length)
    expect(fs.readFileSync(path.join(path.dirname(a.dir), "daemon.log"), "utf8")).toMatch(/WRONGPASS|NOAUTH/)
    await first.kill()
    await server("redis", first.port, { password: "wrong" })
    await expectRecovery(a, "redis")
  }, 90_000)
})

describe("memcached: value over the server's item size", () => {
  it("the large entry is skipped and counted, the others are shared, and outputs match a plain build", async () => {
    const small = await server("memcached", undefined, { maxItemSize: "1m" })
    const a = machine(remoteEnv("memcached", `127.0.0.1:${small.port}`, prefix()))
    // 1.5 MiB of random bytes in the object: its entry can't be compressed under memcached's 1 MiB.
    const bytes = randomBytes(1536 * 1024)
    const lines = Array.from({ length: bytes.length / 64 }, (_, i) =>
      `"${[...bytes.subarray(i * 64, i * 64 + 64)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}"`)
    const blob = `const unsigned char blob_data[] =\n${lines.join("\n")};\n`
    const withBlob = (dir: string) => (fs.writeFileSync(path.join(dir, "src", "blob.c"), blob), dir)
    const reference = withBlob(copyCProject(path.join(a.dir, "plain")))
    expect(run("make", ["-j2", "CC=gcc"], { cwd: reference }).code).toBe(0)
    const sources = [...SOURCES, "blob"]

    const dirA = withBlob(copyCProject(path.join(a.dir, "proj")))
    await build(a, dirA)
    expectPlainOutputs(dirA, reference, sources)
    // Five manifests and four results stored; the blob's result is too large.
    await uploadsSettled(a, "memcached")
    expect(await level(a, "memcached")).toMatchObject({ writes: sources.length * ENTRIES_PER_COMPILE - 1, tooLarge: 1, writeErrors: 0, errors: 0 })

    const b = machine(a.remote)
    const dirB = withBlob(copyCProject(path.join(b.dir, "proj")))
    await build(b, dirB)
    expectPlainOutputs(dirB, reference, sources)
    const s = await stats(b)
    expect(total(s.cache_hits)).toBe(SOURCES.length)
    expect(total(s.cache_misses)).toBe(1)
    expect(s.levels["memcached"]).toMatchObject({ tooLarge: 1, errors: 0, writeErrors: 0 })
  }, 60_000)
})
