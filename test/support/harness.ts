/** End-to-end helpers: the built binary, run in a private sandbox (own cache dir, own daemon socket). */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach } from "vitest"
import type { LevelCounters } from "../../src/stats/Stats.ts"

export const ROOT = path.resolve(import.meta.dirname, "../..")
/** The launcher (committed); it runs dist/client.mjs, which the build makes. */
export const BIN = path.join(ROOT, "bin", "sccache-ts")

if (!fs.existsSync(path.join(ROOT, "dist", "client.mjs"))) throw new Error(`dist/ is missing: run "npm run build" (npm test does it first)`)

export interface Run {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: Buffer
}

/** Far above any normal run, even on a loaded machine. */
const HANG_GUARD_MS = 300_000

export const run = (cmd: string, args: ReadonlyArray<string>, opts: { cwd: string; env?: NodeJS.ProcessEnv }): Run => {
  // Room for a compile's 20 MB of warnings (the default buffer is 1 MiB).
  // A hang guard of its own: a synchronous spawn blocks vitest's timers, so a hung compile would
  // hang the run instead of failing its test.
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 1 << 30, timeout: HANG_GUARD_MS, killSignal: "SIGKILL" })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

export const runAsync = (cmd: string, args: ReadonlyArray<string>, opts: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }))
  })

export interface Sandbox {
  /** A scratch directory for sources and outputs. */
  readonly dir: string
  readonly env: NodeJS.ProcessEnv
  readonly socket: string
  /** `sccache-ts <args>` in `cwd` (default: dir). */
  readonly sccache: (args: ReadonlyArray<string>, opts?: { cwd?: string; env?: NodeJS.ProcessEnv }) => Run
  readonly stats: () => StatsJson
  readonly stop: () => void
  readonly write: (file: string, text: string) => string
}

export interface StatsJson {
  stats: {
    compile_requests: number
    requests_executed: number
    /** adv_counts: per compiler kind (`c [gcc]`, `c [msvc]`, `cuda [nvcc]`, `rust`). */
    cache_hits: { counts: Record<string, number>; adv_counts?: Record<string, number> }
    cache_misses: { counts: Record<string, number>; adv_counts?: Record<string, number> }
    direct_hits: { counts: Record<string, number> }
    preprocessor_hits: { counts: Record<string, number> }
    cache_errors: { counts: Record<string, number> }
    cache_read_errors: number
    cache_write_errors: number
    compile_fails: number
    not_cached: Record<string, number>
    requests_not_cacheable: number
    requests_not_compile: number
    requests_unsupported_compiler: number
    forced_recaches: number
    /** Per storage level: "disk", and the remote's "s3", "gcs", "redis" or "memcached". */
    levels: Record<string, LevelCounters>
  }
  cache_location: string
}

export const total = (m: { counts: Record<string, number> }): number => Object.values(m.counts).reduce((a, b) => a + b, 0)

/** This test file's sandboxes, removed after its last test (their daemons are stopped by then). */
const sandboxDirs: Array<string> = []
afterAll(() => {
  for (const dir of sandboxDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** Short paths: a Unix socket path must fit in 108 bytes. */
export const makeSandbox = (extraEnv: NodeJS.ProcessEnv = {}): Sandbox => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-"))
  sandboxDirs.push(dir)
  const socket = path.join(dir, "run", "d.sock")
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SCCACHE_DIR: path.join(dir, "cache"),
    SCCACHE_SERVER_UDS: socket,
    SCCACHE_ERROR_LOG: path.join(dir, "daemon.log"),
    SCCACHE_LOG: "debug",
    LC_ALL: "C",
    ...extraEnv
  }
  delete env["XDG_RUNTIME_DIR"]
  const work = path.join(dir, "w")
  fs.mkdirSync(work)
  const sccache = (args: ReadonlyArray<string>, opts?: { cwd?: string; env?: NodeJS.ProcessEnv }) =>
    run(BIN, args, { cwd: opts?.cwd ?? work, env: { ...env, ...opts?.env } })
  return {
    dir: work,
    env,
    socket,
    sccache,
    stats: () => {
      const r = sccache(["--show-stats", "--stats-format", "json"])
      return JSON.parse(r.stdout.toString()) as StatsJson
    },
    stop: () => {
      sccache(["--stop-server"])
    },
    write: (file, text) => {
      const p = path.join(work, file)
      fs.mkdirSync(path.dirname(p), { recursive: true })
      fs.writeFileSync(p, text)
      return p
    }
  }
}

/** A copy of examples/c-project at `to`, without a build directory. */
export const copyCProject = (to: string): string => {
  fs.cpSync(path.join(ROOT, "examples", "c-project"), to, { recursive: true, filter: (p) => !p.includes(`${path.sep}build`) })
  return to
}

/** Compilers present on this machine; CI installs them all (a missing one fails the suite there). */
export const have = (exe: string): boolean => spawnSync("sh", ["-c", `command -v ${exe}`]).status === 0

/** A maker of sandboxes for one test file: each is stopped (its daemon too) after the test that made it. */
export const sandboxesPerTest = (base: NodeJS.ProcessEnv = {}) => {
  const made: Array<Sandbox> = []
  afterEach(() => {
    for (const sb of made.splice(0)) sb.stop()
  })
  return (env: NodeJS.ProcessEnv = {}): Sandbox => {
    const sb = makeSandbox({ ...base, ...env })
    made.push(sb)
    return sb
  }
}

/** The daemons of a sandbox, found by the socket in their environment. */
export const daemonPids = (sb: Sandbox): Array<number> =>
  fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
      // Not a child it runs with its own environment (mkfifo): the daemon runs our bundle.
      return env.includes("SCCACHE_START_SERVER=1") && env.includes(`SCCACHE_SERVER_UDS=${sb.socket}`) &&
        fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("client.mjs")
    } catch {
      return false
    }
  })

/**
 * The daemons of a sandbox once the passing ones are gone: a child the daemon is forking is a copy
 * of it until its exec, and a daemon that lost the start-up race takes a moment to exit. Waits
 * (at most `boundMs`) for exactly one.
 */
export const settledDaemonPids = async (sb: Sandbox, boundMs = 5000): Promise<Array<number>> => {
  let pids = daemonPids(sb)
  for (const end = Date.now() + boundMs; pids.length !== 1 && Date.now() < end; pids = daemonPids(sb)) {
    await new Promise((r) => setTimeout(r, 50))
  }
  return pids
}

