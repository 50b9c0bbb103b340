import { distrustDir, distrustSocket, splitSocket } from "../config/SocketPath.ts"
import { basenameOf, dirnameOf } from "../fs/PosixPath.ts"
import { socketsReady, statOf } from "./Runtime.ts"

/**
 * Connects to the socket when it and its directory are ours, as every hit does, without `node:fs`
 * (on Bun it costs 4 ms of each compile's start, and Bun has no native lstat or realpath).
 *
 * The working directory goes into the socket's directory for the check and the connect: stat(".")
 * then sees the very directory the connection goes through, however its path is repointed meanwhile.
 * getcwd after chdir gives real paths, so a directory whose own name is a symlink is still refused,
 * as lstat would. `connect` must connect before it returns: connectUnix does, once socketsReady.
 *
 * `undefined`: not shown to be ours (nothing there, another user's, unreadable, or a working
 * directory we could not come back to): the caller decides the old way, with lstat.
 */
export const connectIfOurs = async <A>(socket: string, connect: (name: string) => A): Promise<{ readonly connected: A } | undefined> => {
  const { dir, name } = splitSocket(socket)
  await socketsReady()
  let home: string
  try {
    // Entered again first: a directory we can't come back to by its path is never left.
    home = process.cwd()
    process.chdir(home)
  } catch {
    return undefined
  }
  try {
    process.chdir(dirnameOf(dir))
    const up = process.cwd()
    const leaf = basenameOf(dir)
    process.chdir(leaf === "" ? "." : leaf)
    const here = process.cwd()
    const [st, sock] = await Promise.all([statOf("."), statOf(name)])
    if ("code" in st || "code" in sock) return undefined
    const isSymlink = here !== (up === "/" ? `/${leaf}` : `${up}/${leaf}`)
    if (distrustDir(st, isSymlink) !== undefined || distrustSocket(socket, sock) !== undefined) return undefined
    return { connected: connect(name) }
  } catch {
    return undefined
  } finally {
    process.chdir(home)
  }
}
