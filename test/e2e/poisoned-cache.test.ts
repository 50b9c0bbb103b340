/**
 * A shared cache is input from others: someone with write access to the Redis (or the disk
 * cache's directory) plants what they like. Through the real daemon and real gcc, each planted
 * thing must end in a plain compile's outputs and a counted error, never a wrong object, a file
 * written elsewhere, a stuck daemon or an unbounded allocation.
 */
import { spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type CacheEntry, decodeEntry, encodeEntry } from "../../src/cache/CacheEntry.ts"
import { decodeManifest, encodeManifest, type Manifest } from "../../src/cache/Manifest.ts"
import { daemonPids, ROOT, run, type Sandbox, sandboxesPerTest } from "../support/harness.ts"

const HANG_GUARD = 120_000
const backends = inject("backends")
const GUARD = { NODE_OPTIONS: `--import=${path.join(ROOT, "test", "support", "network-guard.ts")}` }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const sandbox = sandboxesPerTest(GUARD)

/** Peak resident memory of a process, in bytes. */
const peakRss = (pid: number): number => Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024

/**
 * Compiles through the cache and plainly, in the same place: code, stdout, stderr and every
 * output file must be the same. Returns the cached run's outputs.
 */
const sameAsPlain = (sb: Sandbox, args: Array<string>, outputs: Array<string>) => {
  const read = () => outputs.map((o) => (fs.existsSync(path.join(sb.dir, o)) ? fs.readFileSync(path.join(sb.dir, o)) : undefined))
  const cached = sb.sccache(["gcc", ...args])
  const cachedOut = read()
  for (const o of outputs) fs.rmSync(path.join(sb.dir, o), { force: true })
  const plain = run("gcc", args, { cwd: sb.dir, env: sb.env })
  expect(cached.code).toBe(plain.code)
  expect(cached.stdout.toString()).toBe(plain.stdout.toString())
  expect(cached.stderr.toString()).toBe(plain.stderr.toString())
  expect(cachedOut).toEqual(read())
  return cachedOut
}

/** Waits until the daemon has stored what its last misses produced (writes run after the reply). */
const settle = async (count: () => number, atLeast: number) => {
  for (let i = 0; i < 200 && count() < atLeast; i++) await sleep(50)
  expect(count()).toBeGreaterThanOrEqual(atLeast)
}

describe("disk cache", () => {
  it("a FIFO at every entry's path: the compile completes, the error is counted, --stop-server stops the daemon", async () => {
    const sb = sandbox()
    sb.write("f.c", "int f(void) { return 42; }\n")
    const root = path.join(sb.env["SCCACHE_DIR"]!, "sccache-ts-v1")
    const entries = () =>
      fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as Array<string>).filter((f) => /(^|\/)[0-9a-f]{64}$/.test(f)) : []
    sameAsPlain(sb, ["-c", "f.c", "-o", "f.o"], ["f.o"])
    // The entry and the direct-mode manifest.
    await settle(() => entries().length, 2)
    sb.stop()
    for (const f of entries()) {
      fs.rmSync(path.join(root, f))
      expect(spawnSync("mkfifo", [path.join(root, f)]).status).toBe(0)
    }
    // Twice, so a blocked thread from the first would show in the second.
    sameAsPlain(sb, ["-c", "f.c", "-o", "f.o"], ["f.o"])
    sameAsPlain(sb, ["-c", "f.c", "-o", "f.o"], ["f.o"])
    const stats = sb.stats().stats
    expect(stats.cache_read_errors).toBeGreaterThanOrEqual(2)
    expect((stats as { cache_timeouts?: number }).cache_timeouts ?? 0).toBe(0)
    expect(daemonPids(sb)).toHaveLength(1)
    const stop = sb.sccache(["--stop-server"])
    expect(stop.code).toBe(0)
    for (let i = 0; i < 100 && daemonPids(sb).length > 0; i++) await sleep(100)
    expect(daemonPids(sb)).toHaveLength(0)
  }, HANG_GUARD)
})

describe("a poisoned Redis", () => {
  const port = Number(new URL(backends.redisUrl).port)
  let redis: Redis
  beforeAll(() => {
    redis = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 })
  })
  afterAll(() => redis.disconnect())

  /** A machine on a Redis of its own prefix, with no local disk: every lookup reads what others planted. */
  const machine = () => {
    const prefix = `poison-${randomBytes(6).toString("hex")}`
    const sb = sandbox({ SCCACHE_REDIS: backends.redisUrl, SCCACHE_REDIS_KEY_PREFIX: prefix, SCCACHE_LOCAL_DISK: "false" })
    /** Every stored blob by key, told apart as entries and manifests. */
    const stored = async () => {
      const names = await redis.keys(`${prefix}/*`)
      const out: Array<{ name: string; key: string; blob: Buffer; manifest: Manifest | undefined }> = []
      for (const name of names) {
        const key = name.slice(name.lastIndexOf("/") + 1)
        // Not the daemon's start probe (`.sccache_check`).
        if (!/^[0-9a-f]{64}$/.test(key)) continue
        const blob = (await redis.getBuffer(name))!
        const manifest = await decodeManifest(key, blob)
        out.push({ name, key, blob, manifest: manifest instanceof Error ? undefined : manifest })
      }
      return out
    }
    return { sb, prefix, stored }
  }

  const blobOf = async (key: string, entry: CacheEntry) => {
    const blob = await encodeEntry(key, entry)
    if (blob instanceof Error) throw blob
    return Buffer.from(blob)
  }
  const obj = (data: string): CacheEntry => ({ files: [{ role: "obj", mode: 0o644, data: Buffer.from(data) }], stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0 })

  it("entries swapped between keys are misses, never the other object", async () => {
    const { sb, stored } = machine()
    sb.write("a.c", "int a(void) { return 1; }\n")
    sb.write("b.c", "int b(void) { return 2; }\n")
    sameAsPlain(sb, ["-c", "a.c", "-o", "a.o"], ["a.o"])
    sameAsPlain(sb, ["-c", "b.c", "-o", "b.o"], ["b.o"])
    const entries = async () => (await stored()).filter((s) => s.manifest === undefined)
    for (let i = 0; i < 100 && (await entries()).length < 2; i++) await sleep(50)
    const [x, y] = await entries()
    // The daemon keeps recent blobs in memory: a fresh one reads what was planted.
    sb.stop()
    expect(x).toBeDefined()
    expect(y).toBeDefined()
    await redis.set(x!.name, y!.blob)
    await redis.set(y!.name, x!.blob)
    const before = sb.stats().stats.cache_read_errors
    sameAsPlain(sb, ["-c", "a.c", "-o", "a.o"], ["a.o"])
    sameAsPlain(sb, ["-c", "b.c", "-o", "b.o"], ["b.o"])
    expect(sb.stats().stats.cache_read_errors).toBeGreaterThanOrEqual(before + 2)
  }, HANG_GUARD)

  it("decompression bombs and huge declared sizes: a miss each, and the daemon never holds the inflated gigabyte", async () => {
    const { sb, stored } = machine()
    sb.write("c.c", "int c(void) { return 3; }\n")
    sameAsPlain(sb, ["-c", "c.c", "-o", "c.o"], ["c.o"])
    let all: Awaited<ReturnType<typeof stored>> = []
    for (let i = 0; i < 100 && (all = await stored()).length < 2; i++) await sleep(50)
    sb.stop()
    // 1 GiB of zeros in a few kilobytes, declared as 1 KiB; and a valid frame declaring 2^62 bytes.
    const zeros = zlib.zstdCompressSync(Buffer.alloc(64 << 20))
    const packed = Buffer.concat(Array.from({ length: 16 }, () => zeros))
    expect(packed.length).toBeLessThan(1 << 20)
    const frame = (declared: bigint, body: Buffer) => {
      const size = Buffer.alloc(8)
      size.writeBigUInt64BE(declared)
      return Buffer.concat([Buffer.from("SCTS"), Buffer.from([2]), size, Buffer.alloc(32), body])
    }
    const [first, second] = all
    await redis.set(first!.name, frame(1024n, packed))
    await redis.set(second!.name, frame(2n ** 62n, packed))
    const before = sb.stats().stats.cache_read_errors
    const out = sameAsPlain(sb, ["-c", "c.c", "-o", "c.o"], ["c.o"])
    expect(out[0]).toBeDefined()
    expect(sb.stats().stats.cache_read_errors).toBeGreaterThan(before)
    const [pid] = daemonPids(sb)
    expect(pid).toBeDefined()
    expect(peakRss(pid!)).toBeLessThan(512 << 20)
  }, HANG_GUARD)

  it("a manifest naming files outside the include search is never trusted, nor read", async () => {
    const { sb, stored } = machine()
    sb.write("inc/m.h", "#define M 5\n")
    sb.write("m.c", '#include "m.h"\nint m(void) { return M; }\n')
    const args = ["-Iinc", "-c", "m.c", "-o", "m.o"]
    const good = sameAsPlain(sb, args, ["m.o"])
    let all: Awaited<ReturnType<typeof stored>> = []
    for (let i = 0; i < 100 && !(all = await stored()).some((s) => s.manifest !== undefined); i++) await sleep(50)
    const manifest = all.find((s) => s.manifest !== undefined)!
    sb.stop()
    // A file the attacker knows the content of, outside the sources, -I directories and system headers.
    const outside = path.join(path.dirname(sb.dir), "outside.h")
    fs.writeFileSync(outside, "known content\n")
    const digest = createHash("sha256").update("known content\n").digest("hex")
    const planted = "e".repeat(64)
    await redis.set(manifest.name.replace(manifest.key, planted), await blobOf(planted, obj("NOT THE OBJECT")))
    const poisoned: Manifest = {
      candidates: [
        // Read whole, /proc/self/pagemap got the daemon OOM-killed.
        { result: planted, includes: [["/proc/self/pagemap", "0".repeat(64)]], absent: [] },
        { result: planted, includes: [[outside, digest]], absent: [] },
        { result: planted, includes: [["../outside.h", digest]], absent: [] }
      ]
    }
    const blob = await encodeManifest(manifest.key, poisoned)
    if (blob instanceof Error) throw blob
    await redis.set(manifest.name, Buffer.from(blob))
    const out = sameAsPlain(sb, args, ["m.o"])
    expect(out).toEqual(good)
    expect(Buffer.from(out[0]!).toString()).not.toContain("NOT THE OBJECT")
    expect(daemonPids(sb)).toHaveLength(1)
  }, HANG_GUARD)

  it("a manifest's .d text that would run commands in make is not written; the compiler's is", async () => {
    const { sb, stored } = machine()
    sb.write("d.h", "#define D 4\n")
    sb.write("d.c", '#include "d.h"\nint d(void) { return D; }\n')
    const args = ["-MD", "-MP", "-c", "d.c", "-o", "d.o"]
    sameAsPlain(sb, args, ["d.o", "d.d"])
    let all: Awaited<ReturnType<typeof stored>> = []
    for (let i = 0; i < 100 && !(all = await stored()).some((s) => s.manifest !== undefined); i++) await sleep(50)
    const manifest = all.find((s) => s.manifest !== undefined)!
    const real = manifest.manifest!.candidates[0]!
    sb.stop()
    expect(real.dep).toBeDefined()
    const evil = [
      `${real.dep}$(shell touch pwned)\n`,
      `${real.dep}d.o: d.h\n\ttouch pwned\n`,
      `${real.dep}X != touch pwned\n`,
      real.dep!.replace("d.h", "$(shell touch pwned)")
    ]
    for (const dep of evil) {
      const blob = await encodeManifest(manifest.key, { candidates: [{ ...real, dep }] })
      if (blob instanceof Error) throw blob
      await redis.set(manifest.name, Buffer.from(blob))
      sb.stop()
      const [, depText] = sameAsPlain(sb, args, ["d.o", "d.d"])
      expect(depText!.toString()).not.toContain("pwned")
    }
    // The real text still gives direct hits.
    const blob = await encodeManifest(manifest.key, { candidates: [real] })
    if (blob instanceof Error) throw blob
    await redis.set(manifest.name, Buffer.from(blob))
    sb.stop()
    const before = sb.stats().stats
    sameAsPlain(sb, args, ["d.o", "d.d"])
    const after = sb.stats().stats
    expect(Object.values(after.direct_hits.counts).reduce((a, b) => a + b, 0)).toBe(
      Object.values(before.direct_hits.counts).reduce((a, b) => a + b, 0) + 1
    )
  }, HANG_GUARD)

  it("an entry whose roles are not this compile's outputs writes nothing", async () => {
    const { sb, stored } = machine()
    sb.write("r.c", "int r(void) { return 6; }\n")
    const args = ["-c", "r.c", "-o", "r.o"]
    const good = sameAsPlain(sb, args, ["r.o"])
    let all: Awaited<ReturnType<typeof stored>> = []
    for (let i = 0; i < 100 && (all = await stored()).filter((s) => s.manifest === undefined).length < 1; i++) await sleep(50)
    const entry = all.find((s) => s.manifest === undefined)!
    sb.stop()
    const decoded = await decodeEntry(entry.key, entry.blob)
    if (decoded instanceof Error) throw decoded
    for (const role of ["constructor", "__proto__", "dwo"]) {
      await redis.set(entry.name, await blobOf(entry.key, { ...decoded, files: [...decoded.files, { role, mode: 0o644, data: Buffer.from("EXTRA") }] }))
      sb.stop()
      expect(sameAsPlain(sb, args, ["r.o"])).toEqual(good)
    }
    expect(fs.readdirSync(sb.dir).sort()).toEqual(["r.c", "r.o"])
    expect(daemonPids(sb)).toHaveLength(1)
  }, HANG_GUARD)
})

describe("a poisoned Rust entry on disk", () => {
  const ARGS = ["--crate-name", "poison", "--edition=2021", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata,link", "--out-dir", "out"]
  const ENV = { FOO: "bar", AWS_SECRET_ACCESS_KEY: "topsecret-value" }

  /** The stored entry of the crate: its file, key and contents. */
  const rustEntry = async (sb: Sandbox) => {
    const root = path.join(sb.env["SCCACHE_DIR"]!, "sccache-ts-v1")
    for (let i = 0; i < 200; i++) {
      const files = fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as Array<string>).filter((f) => /[0-9a-f]{64}$/.test(f)) : []
      for (const f of files) {
        const key = path.basename(f)
        const entry = await decodeEntry(key, fs.readFileSync(path.join(root, f)))
        if (!(entry instanceof Error) && entry.files.some((x) => x.role === "lib*.rlib")) return { file: path.join(root, f), key, entry }
      }
      await sleep(50)
    }
    throw new Error("no Rust entry was stored")
  }
  const replace = async (file: string, key: string, entry: CacheEntry) => {
    const blob = await encodeEntry(key, entry)
    if (blob instanceof Error) throw blob
    fs.writeFileSync(file, blob)
  }
  const rustHits = (sb: Sandbox) => sb.stats().stats.cache_hits.counts["Rust"] ?? 0

  it("`# env-dep:` lines it adds get no value: the client's secret never reaches the .d", async () => {
    const sb = sandbox()
    sb.write("src/lib.rs", 'pub fn f() -> &\'static str { env!("FOO") }\n')
    fs.mkdirSync(path.join(sb.dir, "out"))
    expect(sb.sccache(["rustc", ...ARGS], { env: ENV }).code).toBe(0)
    const { file, key, entry } = await rustEntry(sb)
    sb.stop()
    await replace(file, key, {
      ...entry,
      files: entry.files.map((f) => (f.role === "*.d" ? { ...f, data: Buffer.concat([f.data, Buffer.from("# env-dep:AWS_SECRET_ACCESS_KEY\n")]) } : f))
    })
    // cargo makes --out-dir before it runs rustc.
    fs.rmSync(path.join(sb.dir, "out"), { recursive: true })
    fs.mkdirSync(path.join(sb.dir, "out"))
    const hits = rustHits(sb)
    expect(sb.sccache(["rustc", ...ARGS], { env: ENV }).code).toBe(0)
    expect(rustHits(sb)).toBe(hits + 1)
    const dep = fs.readFileSync(path.join(sb.dir, "out", "poison.d"), "utf8")
    expect(dep).toContain("# env-dep:FOO=bar")
    expect(dep).toContain("# env-dep:AWS_SECRET_ACCESS_KEY\n")
    expect(dep).not.toContain("topsecret-value")
  }, HANG_GUARD)

  it("files it adds beyond what the compile makes are never written to --out-dir", async () => {
    const sb = sandbox()
    sb.write("src/lib.rs", "pub fn g() -> u32 { 7 }\n")
    fs.mkdirSync(path.join(sb.dir, "out"))
    expect(sb.sccache(["rustc", ...ARGS], { env: ENV }).code).toBe(0)
    const plain = fs.readdirSync(path.join(sb.dir, "out")).sort()
    expect(plain).toContain("libpoison.rlib")
    const { file, key, entry } = await rustEntry(sb)
    sb.stop()
    await replace(file, key, { ...entry, files: [...entry.files, { role: "lib*.so", mode: 0o755, data: Buffer.from("EVIL") }] })
    // cargo makes --out-dir before it runs rustc.
    fs.rmSync(path.join(sb.dir, "out"), { recursive: true })
    fs.mkdirSync(path.join(sb.dir, "out"))
    expect(sb.sccache(["rustc", ...ARGS], { env: ENV }).code).toBe(0)
    expect(fs.readdirSync(path.join(sb.dir, "out")).sort()).toEqual(plain)
    expect(plain).not.toContain("libpoison.so")
  }, HANG_GUARD)
})
