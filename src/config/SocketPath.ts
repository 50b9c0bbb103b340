import * as path from "node:path"
import type { Env } from "./Config.ts"

export const uid = (): number => process.getuid?.() ?? 0

/**
 * Where client and daemon meet: `SCCACHE_SERVER_UDS`, else `$XDG_RUNTIME_DIR/sccache-ts/daemon.sock`,
 * else `${TMPDIR:-/tmp}/sccache-ts-$UID/daemon.sock`. `SCCACHE_SERVER_PORT` means a separate daemon,
 * as in sccache: its own socket, `daemon-<port>.sock` (a port that is not a number is reported by the daemon).
 */
export const socketPath = (env: Env): string => {
  const explicit = env["SCCACHE_SERVER_UDS"]
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit)
  const port = env["SCCACHE_SERVER_PORT"]
  const name = port !== undefined && /^\d{1,5}$/.test(port) ? `daemon-${port}.sock` : "daemon.sock"
  const runtime = env["XDG_RUNTIME_DIR"]
  if (runtime !== undefined && runtime !== "") return path.join(runtime, "sccache-ts", name)
  return path.join(env["TMPDIR"] || "/tmp", `sccache-ts-${uid()}`, name)
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
