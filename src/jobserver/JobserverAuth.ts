/**
 * The GNU make jobserver as an environment advertises it: make ≤ 4.3 and cargo pass a pipe's two
 * file descriptors (`--jobserver-auth=R,W`, older makes `--jobserver-fds=R,W`), make 4.4 a named
 * FIFO (`--jobserver-auth=fifo:PATH`). Parsing, here, is pure; whether a process really holds it is
 * read from /proc (JobserverProc). Client and daemon both use this, so it stays free of Effect and
 * of `node:fs`, which the client loads only when a jobserver is advertised.
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
