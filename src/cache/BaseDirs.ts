import * as path from "node:path"

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
