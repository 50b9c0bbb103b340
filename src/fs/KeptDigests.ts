import { Context } from "effect"
import * as fs from "node:fs"
import { writeFileAtomically } from "./AtomicWrite.ts"

/**
 * Where the daemon keeps such digests: a file of the local cache folder, set only when the local
 * disk is a cache level that stores (not with SCCACHE_LOCAL_RW_MODE=READ_ONLY, nor without a
 * local level). Unset, every daemon hashes for itself.
 */
export const KeptDigestsFile = Context.Reference<string | undefined>("sccache-ts/fs/KeptDigestsFile", { defaultValue: () => undefined })

/** A file changed this recently may change again within one tick of the file system's clock: its digest is not kept. */
export const SETTLE_MS = 1000

/** The store stays small (a toolchain has a few libraries): anything bigger is not ours. */
const MAX_STORE_BYTES = 1 << 20

/** Pure: what a file is, as far as its digest goes: device, inode, size and both times to the nanosecond. */
export const statIdentity = (st: fs.BigIntStats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`

type Store = Record<string, { readonly id: string; readonly digest: string }>

/** Pure: the store's entries that have the right shape; nothing else of the text is believed. */
export const parseStore = (text: string): Store => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return {}
  }
  const out: Store = {}
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return out
  for (const [file, v] of Object.entries(parsed)) {
    const { id, digest } = (v ?? {}) as { id?: unknown; digest?: unknown }
    if (typeof id === "string" && typeof digest === "string" && /^[0-9a-f]{64}$/.test(digest)) out[file] = { id, digest }
  }
  return out
}

const readStore = (store: string): Store => {
  try {
    const fd = fs.openSync(store, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    try {
      const st = fs.fstatSync(fd)
      if (!st.isFile() || st.size > MAX_STORE_BYTES) return {}
      return parseStore(fs.readFileSync(fd, "utf8"))
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return {}
  }
}

/**
 * The digest of a big file that rarely changes (a compiler's libraries: hashing them costs a
 * daemon's first compile a quarter of a second), kept across daemons in `store`, a file of the
 * local cache folder, under the file's stat identity: any change to the file (its size, either
 * time, or a new inode) means hashing it again. `compute` gives "" for a file it can't read,
 * which is not kept. The store is only a shortcut: when it can't be read or written, the file is
 * hashed as before.
 */
export const keptDigest = async (store: string, file: string, compute: (file: string) => Promise<string>): Promise<string> => {
  let st: fs.BigIntStats
  try {
    st = fs.statSync(file, { bigint: true })
  } catch {
    return compute(file)
  }
  const id = statIdentity(st)
  const known = readStore(store)[file]
  if (known !== undefined && known.id === id) return known.digest
  const digest = await compute(file)
  const changedMs = Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n)
  if (!/^[0-9a-f]{64}$/.test(digest) || Date.now() - changedMs < SETTLE_MS) return digest
  // Read again just before writing: another library's digest may have been kept meanwhile.
  const next = { ...readStore(store), [file]: { id, digest } }
  await writeFileAtomically(store, Buffer.from(JSON.stringify(next)), { mode: 0o600 }).catch(() => undefined)
  return digest
}
