import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"

export const TEMP_PREFIX = ".tmp-sccache-ts-"

/**
 * Random once per process, then counted: names only have to be new (the file is created
 * exclusively). Made on first use, not on import: a daemon started from its startup snapshot would
 * otherwise share the stem (and the pid) of the process that built the snapshot.
 */
let tempStem: string | undefined
let temps = 0
export const tempName = (): string => `${tempStem ??= `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}-`}${(temps++).toString(36)}`

/**
 * Up to this size a file is written synchronously: a handful of syscalls, where the promise API
 * pays a thread-pool round trip for each (most of a small hit's output write).
 */
const SYNC_BYTES = 1 << 20

const writeSync = (tmp: string, data: Uint8Array, mode: number | undefined) => {
  const fd = fs.openSync(tmp, "wx", mode)
  try {
    for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off)
    if (mode !== undefined) fs.fchmodSync(fd, mode)
  } finally {
    fs.closeSync(fd)
  }
}

const writeAsync = async (tmp: string, data: Uint8Array, mode: number | undefined) => {
  await fsp.writeFile(tmp, data, { flag: "wx", ...(mode === undefined ? {} : { mode }) })
  if (mode !== undefined) await fsp.chmod(tmp, mode)
}

const unlinkIfThere = (file: string) => {
  try {
    fs.unlinkSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
}

/**
 * Writes a private temp file beside `file`, then renames it into place: readers see the old file
 * or the whole new one, never part of it, and a failed (or aborted) write leaves the old file as it was.
 * The mode is set explicitly, because the writer's umask is not necessarily that of who asked for the file.
 */
export const writeFileAtomically = async (
  file: string,
  data: Uint8Array,
  opts: { readonly mode?: number; readonly signal?: AbortSignal; readonly replace?: "unlink" } = {}
): Promise<void> => {
  const tmp = path.join(path.dirname(file), tempName())
  try {
    if (data.length <= SYNC_BYTES) writeSync(tmp, data, opts.mode)
    else await writeAsync(tmp, data, opts.mode)
    // Whoever asked is gone: the old file stays as it was.
    opts.signal?.throwIfAborted()
    // Renaming over an existing file makes ext4 flush the new one first (auto_da_alloc): several
    // times the cost of the whole write. Unlinked just before, the path is briefly absent instead
    // (a plain compile leaves it half-written for longer), and never partial.
    if (opts.replace === "unlink") unlinkIfThere(file)
    fs.renameSync(tmp, file)
  } catch (e) {
    // Cleaned up here rather than in an Effect finalizer: the promise runs on even if the fiber is interrupted.
    await fsp.rm(tmp, { force: true }).catch(() => undefined)
    throw e
  }
}
