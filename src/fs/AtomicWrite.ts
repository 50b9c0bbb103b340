import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"

export const TEMP_PREFIX = ".tmp-sccache-ts-"

export const tempName = (): string => `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`

/**
 * Writes a private temp file beside `file`, then renames it into place: readers see the old file
 * or the whole new one, never part of it, and a failed (or aborted) write leaves the old file as it was.
 */
export const writeFileAtomically = async (
  file: string,
  data: Uint8Array,
  opts: { readonly mode?: number; readonly signal?: AbortSignal } = {}
): Promise<void> => {
  const tmp = path.join(path.dirname(file), tempName())
  try {
    await fs.writeFile(tmp, data, { flag: "wx", ...(opts.mode === undefined ? {} : { mode: opts.mode }) })
    // Explicitly, because the writer's umask is not necessarily that of who asked for the file.
    if (opts.mode !== undefined) await fs.chmod(tmp, opts.mode)
    // Whoever asked is gone: the old file stays as it was.
    opts.signal?.throwIfAborted()
    await fs.rename(tmp, file)
  } catch (e) {
    // Cleaned up here rather than in an Effect finalizer: the promise runs on even if the fiber is interrupted.
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw e
  }
}
