import { Context, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
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

/**
 * A directory during one check: nothing there (missing, or not a directory), unreadable, settled
 * with its listing, or changing (its names are looked at one by one).
 */
type DirState =
  | { readonly _tag: "None" }
  | { readonly _tag: "Unreadable" }
  | { readonly _tag: "Listed"; readonly names: ReadonlySet<string> }
  | { readonly _tag: "Changing" }
const NONE: DirState = { _tag: "None" }
const UNREADABLE: DirState = { _tag: "Unreadable" }
const CHANGING: DirState = { _tag: "Changing" }

const depth = (dir: string) => {
  let n = 0
  for (let i = dir.indexOf("/"); i >= 0; i = dir.indexOf("/", i + 1)) n++
  return n
}

/** Pure: entries keyed by directory, each directory after its parents (what is known of a parent serves its children). */
export const parentsFirst = <T>(entries: Iterable<readonly [string, T]>): Array<readonly [string, T]> =>
  [...entries].map((e) => ({ e, d: depth(e[0]) })).sort((a, b) => a.d - b.d).map(({ e }) => e)

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
  /**
   * A look at directories: its function tells whether none of `names` exists in `dir` now (through
   * the directory's cached listing). What it learns of a directory serves those asked after it, so
   * ask parents first (`parentsFirst`).
   */
  readonly absence: () => (dir: string, names: Iterable<string>) => boolean
  /** True when every directory's names are absent: one look, parents first. */
  readonly allAbsent: (dirs: Iterable<readonly [dir: string, names: Iterable<string>]>) => boolean
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

    /**
     * What a directory holds, as far as absent names go, looked at once per check. A directory whose
     * parent was just seen settled (by its listing) or missing is known missing without a look:
     * most of a manifest's directories are a search directory's subdirectories that don't exist.
     */
    const dirState = (dir: string, seen: Map<string, DirState>): DirState => {
      const known = seen.get(dir)
      if (known !== undefined) return known
      const parent = seen.get(path.dirname(dir))
      const state = parent?._tag === "None" || (parent?._tag === "Listed" && !parent.names.has(path.basename(dir))) ? NONE : lookAt(dir)
      seen.set(dir, state)
      return state
    }

    const lookAt = (dir: string): DirState => {
      const st = statOf(dir)
      if (typeof st === "string") return NOTHING_THERE.has(st) ? NONE : UNREADABLE
      if (!st.isDirectory()) return NONE
      const id = statIdentity(st)
      const known = listings.get(dir)
      if (known !== undefined && known.id === id) return { _tag: "Listed", names: known.names }
      // A directory that keeps changing (a build's own, gaining objects as it goes) is not read again
      // and again for a few names: a look at each costs less, however many files it holds.
      if (Date.now() - Number(st.ctimeMs) <= SETTLE_MS) return CHANGING
      try {
        const names = new Set(fs.readdirSync(dir))
        listings.set(dir, { id, names })
        return { _tag: "Listed", names }
      } catch {
        return UNREADABLE
      }
    }

    const absentIn = (dir: string, names: Iterable<string>, seen: Map<string, DirState>): boolean => {
      const state = dirState(dir, seen)
      if (state._tag === "None") return true
      if (state._tag === "Unreadable") return false
      const wanted = [...names]
      if (state._tag === "Listed") return !wanted.some((n) => state.names.has(n))
      if (wanted.length <= FEW_NAMES) return wanted.every((n) => nothingAt(`${dir}/${n}`))
      try {
        const listed = new Set(fs.readdirSync(dir))
        return !wanted.some((n) => listed.has(n))
      } catch {
        // An unreadable directory might hold them: not provably absent.
        return false
      }
    }

    const absence = () => {
      const seen = new Map<string, DirState>()
      return (dir: string, names: Iterable<string>) => absentIn(dir, names, seen)
    }

    const allAbsent = (dirs: Iterable<readonly [string, Iterable<string>]>): boolean => {
      const absent = absence()
      return parentsFirst(dirs).every(([dir, names]) => absent(dir, names))
    }

    return FileDigests.of({ digest, absence, allAbsent })
  })
}
