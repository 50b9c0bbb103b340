import { Data } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Env } from "./Config.ts"

export class SocketDirError extends Data.TaggedError("SocketDirError")<{ readonly dir: string; readonly message: string }> {}

const uid = (): number => process.getuid?.() ?? 0

/**
 * Where client and daemon meet: `SCCACHE_SERVER_UDS`, else `$XDG_RUNTIME_DIR/sccache-ts/daemon.sock`,
 * else `${TMPDIR:-/tmp}/sccache-ts-$UID/daemon.sock`.
 */
export const socketPath = (env: Env): string => {
  const explicit = env["SCCACHE_SERVER_UDS"]
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit)
  const runtime = env["XDG_RUNTIME_DIR"]
  if (runtime !== undefined && runtime !== "") return path.join(runtime, "sccache-ts", "daemon.sock")
  return path.join(env["TMPDIR"] || "/tmp", `sccache-ts-${uid()}`, "daemon.sock")
}

/**
 * Creates the socket's directory 0700 if needed and refuses one that another user owns or that
 * others can write into: a socket there could be swapped for one that returns poisoned objects.
 */
export const ensureSocketDir = (socket: string): SocketDirError | undefined => {
  const dir = path.dirname(socket)
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = fs.lstatSync(dir)
    if (!st.isDirectory()) return new SocketDirError({ dir, message: "is not a directory" })
    if (st.uid !== uid()) return new SocketDirError({ dir, message: `is owned by uid ${st.uid}, not ${uid()}` })
    if ((st.mode & 0o022) !== 0) {
      return new SocketDirError({ dir, message: `is writable by others (mode ${(st.mode & 0o777).toString(8)})` })
    }
    return undefined
  } catch (e) {
    return new SocketDirError({ dir, message: String((e as Error).message) })
  }
}

/**
 * The name of a Linux abstract socket used as a mutex: the kernel frees it when its holder dies,
 * so a killed daemon never leaves a stale lock behind.
 */
export const lockName = (socket: string, role: "daemon" | "starter"): string =>
  `\0sccache-ts-${uid()}-${role}-${fnv1a(socket)}`

// Abstract names share sun_path's 108 bytes, so the socket path goes in as a hash (no node:crypto on the client).
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5
  let g = 0x01000193
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
    g = Math.imul(g ^ text.charCodeAt(i), 0x811c9dc5) >>> 0
  }
  return h.toString(16).padStart(8, "0") + g.toString(16).padStart(8, "0")
}
