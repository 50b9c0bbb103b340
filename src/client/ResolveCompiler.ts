/**
 * Which compiler a compile means, on the hot path: no `node:fs` (4 ms of every start on Bun).
 * A file is sccache-ts itself when it is the same file as the launcher we were invoked by (device
 * and inode, so symlinks and hard links to it count). What the quick look can't decide goes to
 * CompilerOnPath, which checks each candidate with access(2).
 */
import { basenameOf, resolvePath } from "../fs/PosixPath.ts"
import { type FileStat, statOf, whichOnPath } from "./Runtime.ts"

/**
 * Names sccache-ts answers to itself, rather than as a compiler it masquerades as: its own, and
 * sccache's, so it can stand in for sccache (`RUSTC_WRAPPER=sccache`) and never forwards to one.
 */
export const isOwnName = (name: string): boolean => /^sccache(-ts)?$/.test(basenameOf(name))

type Seen = FileStat | { readonly code: string }

/** stat of a path, once per process: dropping our own names and locating the compiler look at the same files. */
const seen = new Map<string, Promise<Seen>>()
const look = (p: string): Promise<Seen> => {
  let st = seen.get(p)
  if (st === undefined) seen.set(p, st = statOf(p))
  return st
}

const sameFile = (a: Seen, b: Seen): boolean => !("code" in a) && !("code" in b) && a.dev === b.dev && a.ino === b.ino

/** A regular file anyone may execute: what a compiler given by path almost always is. */
const plainlyExecutable = (st: Seen): boolean => !("code" in st) && st.isFile() && (st.mode & 0o111) === 0o111

/**
 * The real compiler behind a name: a path as given, or the first match on PATH that is not
 * sccache-ts itself (a `gcc -> sccache-ts` symlink earlier on PATH must not call itself). Bun finds
 * it on PATH natively; on Node, or when PATH has relative entries, or the first match is ourselves,
 * or a given path is not plainly executable, CompilerOnPath decides.
 */
export const locateCompiler = async (name: string, pathVar: string | undefined, cwd: string, self: string): Promise<string | undefined> => {
  const byPath = name.includes("/")
  const candidate = byPath
    ? resolvePath(cwd, name)
    : (pathVar ?? "").split(":").every((dir) => dir.startsWith("/")) ? whichOnPath(name, pathVar) : undefined
  if (candidate !== undefined) {
    const [st, me] = await Promise.all([look(candidate), look(resolvePath(cwd, self))])
    if ((!byPath || plainlyExecutable(st)) && !sameFile(st, me)) return resolvePath("/", candidate)
  }
  const { resolveCompiler } = await import("./CompilerOnPath.ts")
  return resolveCompiler(name, pathVar, cwd, self)
}

/** Strips our own name when it is repeated (`sccache-ts sccache-ts gcc`, as ccache allows). */
export const dropOwnNames = async (args: ReadonlyArray<string>, self: string, cwd: string): Promise<Array<string>> => {
  let i = 0
  while (i < args.length) {
    const arg = args[i]!
    if (!isOwnName(arg) && !(arg.includes("/") && sameFile(...(await Promise.all([look(resolvePath(cwd, arg)), look(resolvePath(cwd, self))]))))) break
    i++
  }
  return args.slice(i)
}
