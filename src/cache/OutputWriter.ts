import { Data, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { writeFileAtomically } from "../fs/AtomicWrite.ts"

export class OutputWriteError extends Data.TaggedError("OutputWriteError")<{ readonly file: string; readonly message: string }> {}

/**
 * Restores an output atomically, so make never sees a half-written object. Once the request is
 * interrupted (its client went away) the file is not put in place, even if the write was under way.
 */
export const writeAtomically = (file: string, data: Uint8Array, mode: number) =>
  Effect.tryPromise({
    try: (signal) => writeFileAtomically(file, data, { mode, signal, replace: "unlink" }),
    catch: (e) => new OutputWriteError({ file, message: String((e as Error).message ?? e) })
  })

export const NOT_REGULAR_OUTPUT = "output is not a regular file"

/**
 * Why a compile's outputs can't go through the cache, if one of them exists and is not a regular
 * file: the compiler writes through a device (/dev/null, /dev/stdout), a FIFO or a symlink, where
 * the cache would read back nothing (or its own pipe) and a hit would rename a file over it.
 */
export const nonRegularOutput = (cwd: string, files: ReadonlyArray<string>): string | undefined => {
  for (const file of files) {
    let st: fs.Stats | undefined
    try {
      // Undefined when it is not there yet, the usual case on a miss (no exception for it).
      st = fs.lstatSync(path.resolve(cwd, file), { throwIfNoEntry: false })
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // Its directory isn't one (ENOTDIR, which throwIfNoEntry doesn't cover): the compiler says why.
      if (code === "ENOTDIR") continue
      return `output ${file} can't be examined (${code})`
    }
    if (st !== undefined && !st.isFile()) return NOT_REGULAR_OUTPUT
  }
  return undefined
}
