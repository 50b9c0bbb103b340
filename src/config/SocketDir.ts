import { Data } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { uid } from "./SocketPath.ts"

export class SocketDirError extends Data.TaggedError("SocketDirError")<{ readonly dir: string; readonly message: string }> {}

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

