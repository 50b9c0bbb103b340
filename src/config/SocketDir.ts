import { Data } from "effect"
import * as path from "node:path"
import { prepareSocketDir } from "./SocketFiles.ts"

export class SocketDirError extends Data.TaggedError("SocketDirError")<{ readonly dir: string; readonly message: string }> {}

/**
 * Creates the socket's directory 0700 if needed and refuses one that another user owns or that
 * others can write into: a socket there could be swapped for one that returns poisoned objects.
 */
export const ensureSocketDir = (socket: string): SocketDirError | undefined => {
  const why = prepareSocketDir(socket)
  return why === undefined ? undefined : new SocketDirError({ dir: path.dirname(socket), message: why })
}
