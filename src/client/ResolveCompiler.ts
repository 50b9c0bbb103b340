import * as fs from "node:fs"
import * as path from "node:path"

const realpath = (p: string): string | undefined => {
  try {
    return fs.realpathSync(p)
  } catch {
    return undefined
  }
}

const isExecutableFile = (p: string): boolean => {
  try {
    fs.accessSync(p, fs.constants.X_OK)
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

/**
 * Names sccache-ts answers to itself, rather than as a compiler it masquerades as: its own, and
 * sccache's, so it can stand in for sccache (`RUSTC_WRAPPER=sccache`) and never forwards to one.
 */
export const isOwnName = (name: string): boolean => /^sccache(-ts)?$/.test(path.basename(name))

/**
 * The real compiler behind a name: a path as given, or the first match on PATH that is not
 * sccache-ts itself (a `gcc -> sccache-ts` symlink earlier on PATH must not call itself).
 */
export const resolveCompiler = (name: string, pathVar: string | undefined, cwd: string, self: string): string | undefined => {
  const selfReal = realpath(self)
  const ok = (candidate: string) => isExecutableFile(candidate) && realpath(candidate) !== selfReal
  if (name.includes("/")) {
    const p = path.resolve(cwd, name)
    return ok(p) ? p : undefined
  }
  for (const dir of (pathVar ?? "").split(path.delimiter)) {
    const candidate = path.resolve(cwd, dir === "" ? "." : dir, name)
    if (ok(candidate)) return candidate
  }
  return undefined
}

/** Strips our own name when it is repeated (`sccache-ts sccache-ts gcc`, as ccache allows). */
export const dropOwnNames = (args: ReadonlyArray<string>, self: string): Array<string> => {
  const selfReal = realpath(self)
  let i = 0
  while (i < args.length && (isOwnName(args[i]!) || (args[i]!.includes("/") && realpath(args[i]!) === selfReal))) i++
  return args.slice(i)
}
