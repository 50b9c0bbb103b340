import { Context, Layer } from "effect"
import * as fs from "node:fs"
import { assemblerReadsFiles } from "../compiler/Language.ts"
import { SETTLE_MS, statIdentity } from "../fs/KeptDigests.ts"
import { hashRegularFileSync, MAX_DIGEST_BYTES } from "../fs/StreamHash.ts"

export interface FileDigest {
  readonly digest: string
  /** `__DATE__`, `__TIME__` or `__TIMESTAMP__`: the result depends on when it was compiled. */
  readonly timeMacros: boolean
  /** `__FILE__` or `__BASE_FILE__`: the result depends on where the file is. */
  readonly fileMacros: boolean
  /** `.incbin` or `.include`: the assembler reads a file no dependency list names. */
  readonly incbin: boolean
  /** When the file last changed (the later of mtime and ctime), in ms. */
  readonly changedMs: number
}


/**
 * stat that never throws: the stats, or the error's code for a path that can't be looked at
 * (missing, a symlink loop, a directory on the way that can't be searched…).
 */
const statOf = (file: string): fs.BigIntStats | string => {
  try {
    // Not throwing for the common miss (ENOENT, ENOTDIR) makes it several times cheaper.
    return fs.statSync(file, { bigint: true, throwIfNoEntry: false }) ?? "ENOENT"
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "EIO"
  }
}

/** Names looked at one by one in a directory that keeps changing, rather than reading it again. */
const FEW_NAMES = 16

/** Codes after which nothing can be found at the path by anyone (the compiler included). */
const NOTHING_THERE = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG"])

export const scanText = (data: Buffer): Omit<FileDigest, "digest" | "changedMs"> => {
  const text = data.toString("latin1")
  return {
    timeMacros: /__(DATE|TIME|TIMESTAMP)__/.test(text),
    fileMacros: /__(BASE_)?FILE__/.test(text),
    incbin: assemblerReadsFiles(text)
  }
}

/**
 * The daemon's memory of file contents, keyed by (device, inode, size, mtime, ctime): a hit does
 * not re-read unchanged headers, and a directory's listing is kept the same way, by its own stat.
 */
export class FileDigests extends Context.Service<FileDigests, {
  /** `undefined` when the file can't be read. */
  readonly digest: (file: string) => FileDigest | undefined
  /** True when none of `names` exists in `dir` now; checked through its cached listing. */
  readonly absent: (dir: string, names: Iterable<string>) => boolean
}>()("sccache-ts/cache/FileDigests") {
  static readonly layer = Layer.sync(FileDigests, () => {
    const digests = new Map<string, { id: string; value: FileDigest }>()
    const listings = new Map<string, { id: string; names: ReadonlySet<string> }>()

    const digest = (file: string): FileDigest | undefined => {
      const st = statOf(file)
      // Unreadable or not a file: the compile goes its slow way, and the compiler says why.
      if (typeof st === "string" || !st.isFile()) return undefined
      const id = statIdentity(st)
      const known = digests.get(file)
      if (known !== undefined && known.id === id) return known.value
      // Streamed and bounded: a manifest from a shared cache may name any file.
      const flags = { timeMacros: false, fileMacros: false, incbin: false }
      const hex = hashRegularFileSync(file, MAX_DIGEST_BYTES, (w) => {
        const f = scanText(w)
        flags.timeMacros ||= f.timeMacros
        flags.fileMacros ||= f.fileMacros
        flags.incbin ||= f.incbin
      })
      if (hex === undefined) return undefined
      const changedMs = Math.max(Number(st.mtimeNs / 1000n) / 1000, Number(st.ctimeNs / 1000n) / 1000)
      const value = { digest: hex, changedMs, ...flags }
      if (Date.now() - changedMs > SETTLE_MS) digests.set(file, { id, value })
      return value
    }

    /** Whether nothing the compiler could open is at `file` (it goes on to the next directory then). */
    const nothingAt = (file: string): boolean => {
      const st = statOf(file)
      return st === "ENOENT" || st === "ENOTDIR"
    }

    const absent = (dir: string, names: Iterable<string>): boolean => {
      const st = statOf(dir)
      if (typeof st === "string") return NOTHING_THERE.has(st)
      if (!st.isDirectory()) return true
      const id = statIdentity(st)
      const known = listings.get(dir)
      if (known !== undefined && known.id === id) {
        for (const n of names) if (known.names.has(n)) return false
        return true
      }
      // A directory that keeps changing (a build's own, gaining objects as it goes) is not read again
      // and again for a few names: a look at each costs less, however many files it holds.
      const wanted = [...names]
      const settled = Date.now() - Number(st.ctimeMs) > SETTLE_MS
      if (!settled && wanted.length <= FEW_NAMES) return wanted.every((n) => nothingAt(`${dir}/${n}`))
      let listed: ReadonlySet<string>
      try {
        listed = new Set(fs.readdirSync(dir))
      } catch {
        // An unreadable directory might hold them: not provably absent.
        return false
      }
      if (settled) listings.set(dir, { id, names: listed })
      return !wanted.some((n) => listed.has(n))
    }

    return FileDigests.of({ digest, absent })
  })
}
