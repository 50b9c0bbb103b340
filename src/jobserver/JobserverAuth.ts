import * as fs from "node:fs"

/**
 * The GNU make jobserver as an environment advertises it: make ≤ 4.3 and cargo pass a pipe's two
 * file descriptors (`--jobserver-auth=R,W`, older makes `--jobserver-fds=R,W`), make 4.4 a named
 * FIFO (`--jobserver-auth=fifo:PATH`). Parsing is pure; whether a process really holds it is read
 * from /proc. Client and daemon both use this, so it stays free of Effect.
 */
export type JobserverAuth =
  | { readonly _tag: "Fds"; readonly read: number; readonly write: number }
  | { readonly _tag: "Fifo"; readonly path: string }

type Env = Readonly<Record<string, string | undefined>>

/** Where the jobserver crate (rustc, cargo) and make look, in the crate's order. */
const VARS = ["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"] as const

const AUTH_FLAG = /(^|\s)--jobserver-(?:auth|fds)=(\S*)/g
const HAS_AUTH = /(^|\s)--jobserver-(?:auth|fds)=/

const parseAuth = (value: string): JobserverAuth | undefined => {
  if (value.startsWith("fifo:")) return value.length > 5 ? { _tag: "Fifo", path: value.slice(5) } : undefined
  const m = /^(\d+),(\d+)$/.exec(value)
  return m === null ? undefined : { _tag: "Fds", read: Number(m[1]), write: Number(m[2]) }
}

/** Pure: the jobserver an environment advertises; within one variable the last flag wins, as in make. */
export const jobserverAuth = (env: Env): JobserverAuth | undefined => {
  for (const name of VARS) {
    const flags = env[name]
    if (flags === undefined) continue
    let last: string | undefined
    for (const m of flags.matchAll(AUTH_FLAG)) last = m[2]
    if (last !== undefined) return parseAuth(last)
  }
  return undefined
}

/**
 * Pure: the environment for a compiler the daemon spawns. Descriptors named by the client mean
 * nothing in the daemon's children, so every advertised jobserver becomes `fifo:PATH` (a path the
 * child can open), or goes away when there is none to give; a client that advertised nothing gets
 * CARGO_MAKEFLAGS, the variable rustc reads first, so its codegen threads draw from the same tokens.
 */
export const advertiseJobserver = (env: Env, fifo: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  let advertised = false
  for (const name of VARS) {
    const flags = out[name]
    if (flags === undefined || !HAS_AUTH.test(flags)) continue
    advertised = true
    let replaced = false
    out[name] = flags.replace(AUTH_FLAG, (_all, lead: string) => {
      // One auth flag, where the first was: the old --jobserver-fds spelling would name dead fds.
      if (fifo === undefined || replaced) return ""
      replaced = true
      return `${lead}--jobserver-auth=fifo:${fifo}`
    })
  }
  if (!advertised && fifo !== undefined) out["CARGO_MAKEFLAGS"] = `-j --jobserver-auth=fifo:${fifo}`
  return out
}

const readlink = (p: string): string | undefined => {
  try {
    return fs.readlinkSync(p)
  } catch {
    return undefined
  }
}

const fdLink = (pid: number | undefined, fd: number) => (pid === undefined ? undefined : readlink(`/proc/${pid}/fd/${fd}`))

const isFifo = (p: string): boolean => {
  try {
    return fs.statSync(p).isFIFO()
  } catch {
    return false
  }
}

/** The fields of /proc/PID/stat after `pid (comm)` (comm may hold spaces and parentheses): state, ppid, … */
const procStat = (pid: number): ReadonlyArray<string> | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

const parentOf = (pid: number | undefined): number | undefined => {
  const ppid = pid === undefined ? undefined : procStat(pid)?.[1]
  return ppid === undefined ? undefined : Number(ppid)
}

/**
 * A path through which another process can open the jobserver that process `pid` was given, or
 * undefined when it has none that works. Advertised descriptors count only when both are one pipe
 * that the parent (make, cargo) holds under the same numbers: make closes them for recipes it
 * doesn't consider recursive, and Node may then have put descriptors of its own there.
 */
export const reachableJobserver = (auth: JobserverAuth, pid: number): string | undefined => {
  if (auth._tag === "Fifo") return isFifo(auth.path) ? auth.path : undefined
  const pipe = fdLink(pid, auth.read)
  const own = `/proc/${pid}/fd/${auth.read}`
  if (pipe === undefined || fdLink(pid, auth.write) !== pipe || fdLink(parentOf(pid), auth.read) !== pipe || !isFifo(own)) {
    return undefined
  }
  return own
}

/**
 * The process that runs the jobserver `pid` reaches through descriptors: the furthest ancestor
 * holding the same pipe under the same number (the top make, or cargo).
 */
const jobserverOwner = (auth: JobserverAuth & { _tag: "Fds" }, pid: number): number => {
  const pipe = fdLink(pid, auth.read)
  let owner = pid
  for (let p = parentOf(pid); p !== undefined && p > 1 && fdLink(p, auth.read) === pipe; p = parentOf(p)) owner = p
  return owner
}

/**
 * Whether a jobserver that `pid` reaches still runs: the make that created it empties it when it
 * exits (make 4.4 also removes its FIFO). The owner's start time tells a reused pid apart.
 */
export const jobserverLiveness = (auth: JobserverAuth, pid: number): (() => boolean) => {
  if (auth._tag === "Fifo") return () => isFifo(auth.path)
  const owner = jobserverOwner(auth, pid)
  const started = procStat(owner)?.[19]
  return () => started !== undefined && procStat(owner)?.[19] === started
}
