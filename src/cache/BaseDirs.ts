import * as fs from "node:fs"
import * as path from "node:path"
import { rebaseArgs } from "../compiler/GccOptions.ts"

/**
 * Pure path rewriting for SCCACHE_BASEDIRS: an absolute path under a base directory becomes
 * relative to the working directory, so one project checked out in two places computes one key.
 */
export const relativizePath = (p: string, cwd: string, basedirs: ReadonlyArray<string>): string => {
  if (!path.isAbsolute(p)) return p
  const norm = path.normalize(p)
  const base = basedirs.find((b) => norm === b || norm.startsWith(b.endsWith("/") ? b : b + "/"))
  if (base === undefined) return p
  return path.relative(cwd, norm) || "."
}

/** The same inside one argument: `-I/base/x`, `-ffile-prefix-map=/base=.`, `/base/src/a.c`. */
export const relativizeArg = (arg: string, cwd: string, basedirs: ReadonlyArray<string>): string => {
  if (basedirs.length === 0 || !arg.includes("/")) return arg
  return arg.split(/([=,])/).map((part) => {
    if (part.startsWith("/")) return relativizePath(part, cwd, basedirs)
    const joined = /^(-[A-Za-z][A-Za-z-]*?)(\/.*)$/.exec(part)
    return joined === null ? part : joined[1]! + relativizePath(joined[2]!, cwd, basedirs)
  }).join("")
}

/**
 * A path as a key sees it: under a base directory it is written from the working directory, but
 * an absolute spelling stays told apart from a relative one (`-o t.o` and `-o $PWD/t.o` give
 * different .d targets, `__FILE__` differs), so only the same spelling in another checkout shares.
 */
export const keyPath = (p: string, cwd: string, basedirs: ReadonlyArray<string>): string => {
  const rel = relativizePath(p, cwd, basedirs)
  return rel === p ? p : `<base>/${rel}`
}

/** gcc/clang arguments for a key: only what the option table marks as a path is rebased. */
export const rebaseGccArgs = (args: ReadonlyArray<string>, cwd: string, basedirs: ReadonlyArray<string>): Array<string> =>
  basedirs.length === 0 ? [...args] : rebaseArgs(args, (p) => keyPath(p, cwd, basedirs))

/**
 * The working directory as the build spells it: the shell's `$PWD` when it names the same
 * directory as the physical one (a checkout reached through a symlink), as ccache does; base
 * directories, `-I` and source paths are written against that one.
 */
export const logicalCwd = (cwd: string, pwd: string | undefined): string => {
  if (pwd === undefined || pwd === cwd || !path.isAbsolute(pwd)) return cwd
  const a = fs.statSync(pwd, { throwIfNoEntry: false })
  const b = fs.statSync(cwd, { throwIfNoEntry: false })
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino ? path.normalize(pwd) : cwd
}

/** A run of path characters in make syntax: escaped characters included, unescaped space not. */
const DEP_PATH = /(?:\\.|[^\s\\])+/g

/**
 * A .d file stored so that it fits any checkout: absolute paths under a base directory are kept
 * relative to the working directory, between NULs (which a .d file never holds).
 */
export const depToTemplate = (text: string, cwd: string, basedirs: ReadonlyArray<string>): string =>
  basedirs.length === 0 ? text : text.replace(DEP_PATH, (p) => {
    if (!p.startsWith("/")) return p
    const colon = p.endsWith(":") ? ":" : ""
    const bare = colon ? p.slice(0, -1) : p
    const rel = relativizePath(bare.replace(/\\(.)/g, "$1"), cwd, basedirs)
    return rel === bare.replace(/\\(.)/g, "$1") ? p : `\0${rel}\0${colon}`
  })

export const depFromTemplate = (template: string, cwd: string): string =>
  template.replace(/\0([^\0]*)\0/g, (_, rel: string) => path.resolve(cwd, rel).replace(/([ #])/g, "\\$1"))
