/**
 * Finding the compiler with `node:fs`, exactly (access(2) for each candidate): for the commands, and
 * for a compile whose quick look (ResolveCompiler) could not decide.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** The file a path leads to (device and inode): symlinks and hard links to one file are that file. */
const fileOf = (p: string): string | undefined => {
  try {
    const st = fs.statSync(p)
    return `${st.dev}:${st.ino}`
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
 * The real compiler behind a name: a path as given, or the first match on PATH that is not
 * sccache-ts itself (a `gcc -> sccache-ts` symlink earlier on PATH must not call itself).
 */
export const resolveCompiler = (name: string, pathVar: string | undefined, cwd: string, self: string): string | undefined => {
  const me = fileOf(path.resolve(cwd, self))
  const ok = (candidate: string) => isExecutableFile(candidate) && fileOf(candidate) !== me
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
