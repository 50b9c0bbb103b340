/**
 * Asking the daemon the careful way, and starting one when none answers: what a compile does when
 * its daemon's socket was not found ready (the first compile of every build and every CI machine,
 * which must cost little more than a plain compile). Loads `node:fs` and `node:net`, which a hit never does.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Env } from "../config/Config.ts"
import { absolutePaths } from "../config/PathVariables.ts"
import { inspectSocket, lockName, prepareSocketDir } from "../config/SocketFiles.ts"
import type { Request } from "../protocol/Messages.ts"
import { type AskOptions, type Asked, settles, TOO_OLD_NODE, warn } from "./Daemon.ts"
import { exchange } from "./Exchange.ts"
import { lockAbstract, runtimeName, socketsReady, spawnDetached, whichOnPath } from "./Runtime.ts"

/** How long a client waits for a daemon it (or a racing client) started: sccache's default. */
const STARTUP_TIMEOUT_MS = 10_000

/** SCCACHE_SERVER_STARTUP_TIMEOUT_MS (or the config file's server_startup_timeout_ms, for the commands). */
const startupTimeoutMs = (env: Env): number => {
  const ms = Number(env["SCCACHE_SERVER_STARTUP_TIMEOUT_MS"])
  return Number.isInteger(ms) && ms > 0 ? ms : STARTUP_TIMEOUT_MS
}

const isExecutable = (p: string): boolean => {
  try {
    fs.accessSync(p, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The Node that runs the daemon. On Node, this one (the launcher checked its version); on Bun, the
 * package's own Node (the clone's devDependency, or hoisted beside the package), else `node` on
 * PATH, which the daemon entry checks itself (it exits with TOO_OLD_NODE).
 */
const daemonNode = (entry: string, env: Env): string | undefined => {
  if (runtimeName === "node") return process.execPath
  const pkg = path.dirname(path.dirname(entry))
  const own = [path.join(pkg, "node_modules", "node", "bin", "node")]
  if (path.basename(path.dirname(pkg)) === "node_modules") own.push(path.join(pkg, "..", "node", "bin", "node"))
  return own.find(isExecutable) ?? whichOnPath("node", env["PATH"])
}

/**
 * The daemon's startup snapshot beside `entry` (see src/daemon/DaemonSnapshot.ts), when the build
 * made it with this very Node binary: another binary refuses a blob, or crashes on it.
 */
const snapshotFor = (node: string, entry: string): string | undefined => {
  const dist = path.dirname(entry)
  try {
    const fit = JSON.parse(fs.readFileSync(path.join(dist, "daemon-snapshot.json"), "utf8")) as { node?: unknown; size?: unknown; mtimeMs?: unknown }
    const real = fs.realpathSync(node)
    const st = fs.statSync(real)
    return fit.node === real && fit.size === st.size && fit.mtimeMs === Math.trunc(st.mtimeMs) ? path.join(dist, "daemon.blob") : undefined
  } catch {
    return undefined
  }
}

/**
 * A daemon this client spawned: `gone` is set once it has exited or could not start; `snapshot`,
 * whether it was started from the snapshot.
 */
interface Spawned {
  gone: { readonly reason: string; readonly code: number | null; readonly noRuntime?: true } | undefined
  readonly snapshot: boolean
}

const spawnDaemon = async (env: Env, entry: string, socket: string, snapshots: boolean): Promise<Spawned> => {
  const node = daemonNode(entry, env)
  if (node === undefined) return { gone: { reason: "no Node ≥ 22.19 to run the daemon (none in the package, none on PATH)", code: null, noRuntime: true }, snapshot: false }
  const blob = snapshots ? snapshotFor(node, entry) : undefined
  const log = env["SCCACHE_ERROR_LOG"]
  let stderr: number | "ignore" = "ignore"
  if (log) {
    try {
      stderr = fs.openSync(log, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
    } catch { /* no log then */ }
  }
  const spawned: Spawned = { gone: undefined, snapshot: blob !== undefined }
  try {
    // Started in /, so a long-lived daemon never keeps a build directory (or a mount) busy; the
    // socket path and the variables' paths go along absolute, since a relative one meant the
    // client's directory (the daemon reads the config file itself).
    const vars = { ...absolutePaths(env, process.cwd()), SCCACHE_START_SERVER: "1", SCCACHE_SERVER_UDS: socket }
    const daemonEnv = Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined))
    // From the snapshot, the entry still comes along: the daemon finds dist/ (and the SDKs) by it.
    await spawnDetached(node, blob === undefined ? [entry] : ["--snapshot-blob", blob, entry], { cwd: "/", env: daemonEnv, stderr }, (code, signal) => {
      spawned.gone = code === TOO_OLD_NODE
        ? { reason: `${node} is older than the daemon needs (Node ≥ 22.19)`, code, noRuntime: true }
        : { reason: `the daemon exited (${signal ?? `status ${code}`})`, code }
    })
  } catch (e) {
    spawned.gone = { reason: `the daemon could not be spawned (${node}: ${(e as Error).message})`, code: null }
  } finally {
    if (typeof stderr === "number") fs.closeSync(stderr)
  }
  return spawned
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const MAX_SPAWNS = 3

/** A daemon that is starting answers within this; shorter polls would only burn the CPU it needs. */
const POLL_MS = 4

/**
 * `ask` when the quick look found no daemon of ours ready: inspects the socket with lstat, starts a
 * daemon (`start`, one per socket however many clients race) and waits for it. Bounded: a daemon
 * that does not come up in the startup timeout, or exits, or refuses to start, ends it at once.
 */
export const askStarting = async (socket: string, req: Request, opts: AskOptions): Promise<Asked> => {
  await socketsReady()
  const deadline = Date.now() + startupTimeoutMs(opts.env)
  let lock: { close: () => void } | undefined
  let daemon: Spawned | undefined
  // A daemon that exits 0 found the lock taken (by one stepping aside): start another, a few times.
  let spawns = 0
  // Until a daemon started from the snapshot fails: then the plain start.
  let snapshots = true
  try {
    while (true) {
      const found = inspectSocket(socket)
      if (typeof found === "object") return { _tag: "Unavailable", reason: found.refused }
      if (found === "ours") {
        const res = await exchange(socket, req)
        if (settles(res)) return res
      }
      if (!opts.start) return { _tag: "Unavailable", reason: "no daemon is running" }
      if (daemon?.gone !== undefined) {
        if (daemon.gone.code !== 0 && daemon.snapshot) {
          snapshots = false
          await warn(opts.env, `${daemon.gone.reason} from its startup snapshot: starting it without`)
        } else if (daemon.gone.code !== 0) {
          return { _tag: "Unavailable", reason: daemon.gone.reason, ...(daemon.gone.noRuntime ? { noRuntime: true } : {}) }
        }
        daemon = undefined
      }
      if (Date.now() > deadline) return { _tag: "Unavailable", reason: "the daemon did not start in time" }
      if (daemon === undefined) {
        const bad = prepareSocketDir(socket)
        if (bad !== undefined) return { _tag: "Unavailable", reason: bad }
        try {
          // Held while this client starts a daemon, so that a `make -j16` starts one.
          lock ??= await lockAbstract(lockName(socket, "starter"))
        } catch (e) {
          return { _tag: "Unavailable", reason: `lock: ${(e as Error).message}` }
        }
        if (lock !== undefined && spawns++ < MAX_SPAWNS) daemon = await spawnDaemon(opts.env, opts.entry, socket, snapshots)
      }
      await sleep(POLL_MS)
    }
  } finally {
    lock?.close()
  }
}
