import { Data, Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"

export class OutputWriteError extends Data.TaggedError("OutputWriteError")<{ readonly file: string; readonly message: string }> {}

/**
 * Writes a restored output next to its final place and renames it there, so make never sees a
 * half-written object, and a failed restore leaves the old file as it was.
 */
export const writeAtomically = (file: string, data: Uint8Array, mode: number) =>
  Effect.tryPromise({
    try: async () => {
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.sccache-ts-${process.pid}-${Math.random().toString(36).slice(2)}`)
      try {
        await fs.writeFile(tmp, data)
        // Explicitly, because the daemon's umask is not the client's.
        await fs.chmod(tmp, mode)
        await fs.rename(tmp, file)
      } catch (e) {
        await fs.rm(tmp, { force: true })
        throw e
      }
    },
    catch: (e) => new OutputWriteError({ file, message: String((e as Error).message ?? e) })
  })
