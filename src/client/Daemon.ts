/**
 * Asking the daemon: plain code, because every compile comes this way. A hit finds its daemon's
 * socket and loads nothing more; starting a daemon (the first compile of a build, on every fresh
 * CI machine) is in StartDaemon, loaded only then. The Effect client (DaemonClient, for the
 * commands) wraps the same function.
 */
import type { Env } from "../config/Config.ts"
import type { Response } from "../protocol/Messages.ts"
import { type Asking, type Exchanged, exchange } from "./Exchange.ts"
import { connectIfOurs } from "./OurSocket.ts"

/** Exit status of a daemon entry run by a Node too old for it: the client then says so. */
export const TOO_OLD_NODE = 3

/** The daemon needs this Node (Effect 4 and the platform packages). */
export const nodeIsRecentEnough = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

export type Asked =
  | Exchanged
  /** No daemon could be asked. `noRuntime`: because no Node fit to run one was found. */
  | { readonly _tag: "Unavailable"; readonly reason: string; readonly noRuntime?: true }

export interface AskOptions {
  readonly env: Env
  readonly entry: string
  /** Start a daemon when none answers. */
  readonly start: boolean
}

/** Appends a warning to SCCACHE_ERROR_LOG (never the build's stderr); nothing if it is unset. */
export const warn = async (env: Env, message: string): Promise<void> => {
  const log = env["SCCACHE_ERROR_LOG"]
  if (!log) return
  const fs = await import("node:fs")
  try {
    // O_NOFOLLOW: a log in a shared directory must not be a symlink someone planted.
    const fd = fs.openSync(log, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
    fs.writeSync(fd, `${new Date().toISOString()} WARN sccache-ts client: ${message}\n`)
    fs.closeSync(fd)
  } catch { /* no log then */ }
}

/** A daemon of another build answers this: it is replaced. */
const isMismatch = (r: Response): boolean => r.type === "version-mismatch"

/** Whether an exchange settled the request (an answer from a daemon of this build, or a failure). */
export const settles = (res: Exchanged): boolean => res._tag !== "NoDaemon" && !(res._tag === "Answer" && isMismatch(res.response))

/**
 * Sends `req` to the daemon at `socket` and gives its answer, starting a daemon when none is there
 * (`start`) and replacing one of another build. Never sends anything to a socket that is not ours
 * in a directory only we can write. Bounded: see StartDaemon.
 */
export const ask = async (socket: string, req: Asking, opts: AskOptions): Promise<Asked> => {
  const quick = await connectIfOurs(socket, (name) => exchange(name, req))
  if (quick !== undefined) {
    const res = await quick.connected
    if (settles(res)) return res
  }
  // A request that could not be made is the caller's to report (it awaits the same promise).
  const request = await Promise.resolve(req).catch(() => undefined)
  if (request === undefined) return { _tag: "Unavailable", reason: "nothing was asked" }
  const { askStarting } = await import("./StartDaemon.ts")
  return askStarting(socket, request, opts)
}
