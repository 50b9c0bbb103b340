import * as fs from "node:fs"
import * as path from "node:path"
import { distrustDir, distrustSocket, type SocketFound } from "./SocketPath.ts"

/**
 * The socket's directory and locks on disk, with `node:fs`: for the daemon, and for a client that
 * starts one (a compile that finds its daemon running never loads this).
 */

const errorText = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String((e as Error).message)

/** Why the directory can't be trusted (see distrustDir), from lstat: a symlink is refused as such. */
export const untrustedDir = (dir: string): string | undefined => {
  let st: fs.Stats
  try {
    st = fs.lstatSync(dir)
  } catch (e) {
    return `cannot be read (${errorText(e)})`
  }
  return distrustDir(st, st.isSymbolicLink())
}

/**
 * What is at the socket path, from two lstat calls: the daemon's view before it binds the path
 * (a socket left there by a dead daemon is ours to replace; anything else is not ours to delete).
 */
export const inspectSocket = (socket: string): SocketFound => {
  const dir = path.dirname(socket)
  let st: fs.Stats
  try {
    st = fs.lstatSync(socket)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return { refused: `socket ${socket} cannot be read (${errorText(e)})` }
    return "absent"
  }
  const bad = untrustedDir(dir)
  if (bad !== undefined) return { refused: `socket directory ${dir} ${bad}` }
  const wrong = distrustSocket(socket, st)
  return wrong === undefined ? "ours" : { refused: wrong }
}

/** mkdir -p, one level at a time: Node's recursive mkdir loops forever under /proc. */
const makeDirs = (dir: string, depth = 0): void => {
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "EEXIST") return
    if (code !== "ENOENT" || depth > 64 || path.dirname(dir) === dir) throw e
    makeDirs(path.dirname(dir), depth + 1)
    fs.mkdirSync(dir, { mode: 0o700 })
  }
}

/** Creates the socket's directory 0700 if needed; why it can't be used, or undefined. */
export const prepareSocketDir = (socket: string): string | undefined => {
  const dir = path.dirname(socket)
  try {
    makeDirs(dir)
  } catch (e) {
    return `socket directory ${dir} cannot be created (${errorText(e)})`
  }
  const bad = untrustedDir(dir)
  return bad === undefined ? undefined : `socket directory ${dir} ${bad}`
}

/**
 * A secret only this user can read: a 0600 file in the socket's directory (already checked to be
 * ours and 0700). Made once, published with link() so racing starters all read the same one.
 */
const lockSecret = (dir: string): string => {
  const file = path.join(dir, "lock.secret")
  try {
    return fs.readFileSync(file, { encoding: "utf8", flag: fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")
  const tmp = `${file}.${process.pid}`
  fs.writeFileSync(tmp, secret, { mode: 0o600 })
  try {
    fs.linkSync(tmp, file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  return fs.readFileSync(file, "utf8")
}

/**
 * The name of a Linux abstract socket used as a mutex: the kernel frees it when its holder dies,
 * so a killed daemon never leaves a stale lock behind. Anyone can bind an abstract name, so it is
 * derived from a secret only this user can read: nobody else can take (squat) it. Throws when the
 * secret can't be read or made (the caller has checked the directory before).
 */
export const lockName = (socket: string, role: "daemon" | "starter"): string =>
  `\0sccache-ts-${lockSecret(path.dirname(socket))}-${role}-${socketHash(socket)}`

/** Abstract names share sun_path's 108 bytes, so the socket path goes in as a hash (no node:crypto on the client). */
export const socketHash = (text: string): string => {
  let h = 0x811c9dc5
  let g = 0x01000193
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
    g = Math.imul(g ^ text.charCodeAt(i), 0x811c9dc5) >>> 0
  }
  return h.toString(16).padStart(8, "0") + g.toString(16).padStart(8, "0")
}
