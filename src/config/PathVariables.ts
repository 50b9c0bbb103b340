import * as path from "node:path"

type Env = Readonly<Record<string, string | undefined>>

/**
 * Variables that name files or directories. The client makes them absolute against its own
 * directory before it starts a daemon (which runs in /), as sccache resolves them against the
 * directory it was started from. Effect-free: the client's bundle starts daemons.
 */
const PATH_VARIABLES = ["SCCACHE_DIR", "SCCACHE_CONF", "SCCACHE_GCS_KEY_PATH", "SCCACHE_ERROR_LOG"]

/** Pure: `env` with its path variables absolute against `cwd`. */
export const absolutePaths = (env: Env, cwd: string): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = { ...env }
  for (const name of PATH_VARIABLES) if (env[name]) out[name] = path.resolve(cwd, env[name]!)
  return out
}
