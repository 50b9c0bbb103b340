/**
 * The few POSIX path operations the client's hot path needs, as plain string code: on Bun, loading
 * `node:path` costs about 1.5 ms of every compile's start. They agree with `node:path`'s posix
 * functions (a property test holds them to it); the daemon uses `node:path` itself.
 */

/** `path.posix.normalize` for an absolute path: no `.`, `..`, doubled or trailing slashes. */
const normalizeAbsolute = (p: string): string => {
  const out: Array<string> = []
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return `/${out.join("/")}`
}

/** `path.posix.resolve(...segments)`, with `cwd` standing for the process's working directory. */
export const resolvePath = (cwd: string, ...segments: ReadonlyArray<string>): string => {
  let joined = ""
  for (let i = segments.length - 1; i >= 0 && !joined.startsWith("/"); i--) {
    const s = segments[i]!
    if (s !== "") joined = joined === "" ? s : `${s}/${joined}`
  }
  return normalizeAbsolute(joined.startsWith("/") ? joined : `${cwd}/${joined}`)
}

/** `path.posix.dirname` of an absolute, normalized path. */
export const dirnameOf = (p: string): string => {
  const i = p.lastIndexOf("/")
  return i <= 0 ? "/" : p.slice(0, i)
}

/** `path.posix.basename`: the last component, trailing slashes ignored. */
export const basenameOf = (p: string): string => {
  let end = p.length
  while (end > 1 && p[end - 1] === "/") end--
  const trimmed = p.slice(0, end)
  return trimmed === "/" ? "" : trimmed.slice(trimmed.lastIndexOf("/") + 1)
}
