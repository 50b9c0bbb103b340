import * as fs from "node:fs"
import type { JobserverAuth } from "./JobserverAuth.ts"

/*
 * Whether a process really holds the jobserver its environment advertises, and whether that
 * jobserver still runs: read from /proc. Kept apart from the parsing so that a client compiling
 * without a jobserver never loads `node:fs` (several ms of a Bun start).
 */

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
