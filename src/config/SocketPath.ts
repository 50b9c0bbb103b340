import { basenameOf, dirnameOf, resolvePath } from "../fs/PosixPath.ts"
import type { Env } from "./Config.ts"

export const uid = (): number => process.getuid?.() ?? 0

/**
 * Where client and daemon meet: `SCCACHE_SERVER_UDS`, else `$XDG_RUNTIME_DIR/sccache-ts/daemon.sock`,
 * else `${TMPDIR:-/tmp}/sccache-ts-$UID/daemon.sock`. `SCCACHE_SERVER_PORT` means a separate daemon,
 * as in sccache: its own socket, `daemon-<port>.sock` (a port that is not a number is reported by the daemon).
 * Plain string code: every compile's client computes it.
 */
export const socketPath = (env: Env): string => {
  const explicit = env["SCCACHE_SERVER_UDS"]
  if (explicit !== undefined && explicit !== "") return resolvePath(process.cwd(), explicit)
  const port = env["SCCACHE_SERVER_PORT"]
  const name = port !== undefined && /^\d{1,5}$/.test(port) ? `daemon-${port}.sock` : "daemon.sock"
  const runtime = env["XDG_RUNTIME_DIR"]
  if (runtime !== undefined && runtime !== "") return resolvePath(process.cwd(), runtime, "sccache-ts", name)
  return resolvePath(process.cwd(), env["TMPDIR"] || "/tmp", `sccache-ts-${uid()}`, name)
}

/** The socket's directory and file name. */
export const splitSocket = (socket: string): { readonly dir: string; readonly name: string } => ({ dir: dirnameOf(socket), name: basenameOf(socket) })

/** What the trust rules need of a file's status (Node's and Bun's stats both have it). */
export interface Seen {
  readonly uid: number
  readonly mode: number
  isDirectory(): boolean
  isSocket(): boolean
}

/**
 * Why the socket's directory can't be trusted, or undefined. It must be a real directory (not a
 * symlink another user could repoint), ours, and not writable by anyone else: otherwise a socket in
 * it could be another user's, who would receive our environment and answer with poisoned objects.
 */
export const distrustDir = (st: Seen, isSymlink: boolean): string | undefined => {
  if (isSymlink) return "is a symbolic link"
  if (!st.isDirectory()) return "is not a directory"
  if (st.uid !== uid()) return `is owned by uid ${st.uid}, not ${uid()}`
  if ((st.mode & 0o022) !== 0) return `is writable by others (mode ${(st.mode & 0o777).toString(8)})`
  return undefined
}

/** Why the file at the socket path is not our daemon's socket, or undefined. */
export const distrustSocket = (socket: string, st: Seen): string | undefined => {
  if (!st.isSocket()) return `${socket} is not a socket`
  if (st.uid !== uid()) return `socket ${socket} is owned by uid ${st.uid}, not ${uid()}`
  return undefined
}

/** What is at the socket path: nothing (no daemon yet), our own socket, or a reason not to talk to it. */
export type SocketFound = "absent" | "ours" | { readonly refused: string }
