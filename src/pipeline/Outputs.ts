import { Effect } from "effect"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { type CacheEntry, fromTable, placeFiles } from "../cache/CacheEntry.ts"
import { writeAtomically } from "../cache/OutputWriter.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import type { Outputs } from "./Family.ts"

/**
 * Outputs at fixed paths, one per role (`obj`, `dwo`, …), as a C-like compile names them: a hit
 * writes each role to the path this invocation asks for, so no entry can aim elsewhere.
 */
export const fixedOutputs = (req: CompileRequest, files: ReadonlyArray<{ readonly role: string; readonly file: string }>): Outputs => ({
  id: JSON.stringify(files.map((f) => path.resolve(req.cwd, f.file))),
  restore: Effect.fn("Outputs.restore")(function*(entry: CacheEntry) {
    const mode = 0o666 & ~req.umask
    // An entry that names an output this invocation doesn't make, or lacks one, is not this compile's.
    const placed = placeFiles(entry, fromTable(Object.fromEntries(files.map((f) => [f.role, f.file]))), files.map((f) => f.role))
    if (placed === undefined) return undefined
    for (const f of placed) yield* writeAtomically(path.resolve(req.cwd, f.file), f.data, mode)
    return { stdout: entry.stdout, stderr: entry.stderr }
  }),
  collect: (out, since) =>
    Effect.promise(async () => {
      const read: Array<CacheEntry["files"][number]> = []
      for (const { role, file } of files) {
        const at = path.resolve(req.cwd, file)
        // One the compile didn't write (it wrote elsewhere than the arguments say) is not its output.
        // The file system's clock may run a little behind ours: allow a second.
        const st = await fsp.stat(at).catch(() => undefined)
        if (st === undefined || st.mtimeMs < since - 1000) return undefined
        const data = await fsp.readFile(at).catch(() => undefined)
        if (data === undefined) return undefined
        read.push({ role, mode: 0o644, data })
      }
      return { exitCode: 0, stdout: out.stdout, stderr: out.stderr, files: read }
    })
})
