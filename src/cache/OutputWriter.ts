import { Data, Effect } from "effect"
import { writeFileAtomically } from "../fs/AtomicWrite.ts"

export class OutputWriteError extends Data.TaggedError("OutputWriteError")<{ readonly file: string; readonly message: string }> {}

/** Restores an output atomically, so make never sees a half-written object. */
export const writeAtomically = (file: string, data: Uint8Array, mode: number) =>
  Effect.tryPromise({
    try: () => writeFileAtomically(file, data, { mode }),
    catch: (e) => new OutputWriteError({ file, message: String((e as Error).message ?? e) })
  })
