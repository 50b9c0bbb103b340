import * as path from "node:path"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import type { GccCompilation } from "../compiler/GccArgs.ts"
import { INCLUDE_PATH_ENV } from "../compiler/GccOptions.ts"
import { decodeEntry, encodeEntry } from "./CacheEntry.ts"
import { KEY_ENV, keyEnv } from "./CKey.ts"
import { KeyBuilder } from "./KeyBuilder.ts"

/**
 * Direct mode: a manifest, found by a key computed without running the preprocessor, lists the
 * results earlier compiles of the same source and arguments gave, each with the files it read
 * (and their digests) and the files that must still not exist (a header created later in an
 * earlier include directory would shadow one it read).
 */
export interface ManifestCandidate {
  /** The result key the entry is stored under. */
  readonly result: string
  readonly includes: ReadonlyArray<readonly [file: string, digest: string]>
  /** Per directory, names that must still not exist there. */
  readonly absent: ReadonlyArray<readonly [dir: string, names: ReadonlyArray<string>]>
  /** The .d file to write on a hit, as a template (see depToTemplate). */
  readonly dep?: string
}

export interface Manifest {
  readonly candidates: ReadonlyArray<ManifestCandidate>
}

const MANIFEST_VERSION = "sccache-ts/manifest/1"
/** Past this, the oldest results drop out: a header that keeps changing must not grow it forever. */
export const MAX_CANDIDATES = 16

/** Environment that changes which headers are found, on top of what changes the result. */
const SEARCH_ENV = INCLUDE_PATH_ENV.filter((v) => !KEY_ENV.includes(v))

export interface ManifestKeyInputs {
  readonly compiler: CompilerInfo
  readonly driver: string
  readonly compilation: GccCompilation
  /** directArgs with paths under base directories made relative. */
  readonly args: ReadonlyArray<string>
  /** The input's path as the key sees it (relative under a base directory). */
  readonly input: string
  readonly inputDigest: string
  /** The working directory, when the result depends on it; else undefined. */
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly cpu: string
}

/** Pure: the key of the manifest for one source, compiler, arguments and environment. */
export const manifestKey = (k: ManifestKeyInputs): string => {
  const b = new KeyBuilder()
    .field("version", MANIFEST_VERSION)
    .field("compiler", k.compiler.identity)
    .field("driver", path.basename(k.driver))
    .list("args", k.args)
    .field("input", k.input)
    .field("input-digest", k.inputDigest)
    .list("env", [...keyEnv(k.env), ...SEARCH_ENV.filter((v) => k.env[v] !== undefined).map((v) => `${v}=${k.env[v]}`)])
  if (k.cwd !== undefined) b.field("cwd", k.cwd)
  if (k.compilation.nativeCpu) b.field("cpu", k.cpu)
  return b.digest()
}

/** Pure: the result key of a compile in depend mode, from the manifest key and what it read. */
export const dependResultKey = (mkey: string, includes: ManifestCandidate["includes"]): string =>
  new KeyBuilder()
    .field("depend", mkey)
    .list("includes", includes.map(([f, d]) => `${f}\0${d}`))
    .digest()

/** Pure: adds a candidate in front, replacing one for the same result, and caps the list. */
export const addCandidate = (m: Manifest | undefined, c: ManifestCandidate): Manifest => ({
  candidates: [c, ...(m?.candidates ?? []).filter((o) => o.result !== c.result)].slice(0, MAX_CANDIDATES)
})

// Manifests travel as cache entries (checksummed, compressed), holding one JSON file.
export const encodeManifest = (m: Manifest): Uint8Array =>
  encodeEntry({ files: [{ role: "manifest", mode: 0o644, data: Buffer.from(JSON.stringify(m)) }], stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0 })

export const decodeManifest = (blob: Uint8Array): Manifest | undefined => {
  const entry = decodeEntry(blob)
  if (entry instanceof Error) return undefined
  const file = entry.files.find((f) => f.role === "manifest")
  if (file === undefined) return undefined
  try {
    const m = JSON.parse(Buffer.from(file.data).toString("utf8")) as Manifest
    return Array.isArray(m.candidates) ? m : undefined
  } catch {
    return undefined
  }
}

/** Pure: the search path printed by `cc -E -v`, quote directories first; undefined if there is none. */
export const parseSearchDirs = (stderr: string): Array<string> | undefined => {
  const out: Array<string> = []
  let inList = false
  let found = false
  for (const line of stderr.split("\n")) {
    // Directories that don't exist yet are where a new header would appear first.
    const missing = /^ignoring nonexistent directory "(.*)"$/.exec(line)
    if (missing !== null) out.push(missing[1]!)
    else if (/^#include .* search starts here:/.test(line)) inList = found = true
    else if (line.startsWith("End of search list.")) inList = false
    else if (inList && line.startsWith(" ")) out.push(line.trim().replace(/ \(framework directory\)$/, ""))
  }
  return found ? [...new Set(out)] : undefined
}

/**
 * Pure: the places where a new file would change what this compile reads. For each header found
 * in search directory k, the same relative name in every earlier directory, and in the directory
 * of every file it read (quote includes look there first). Existing ones are left out: the
 * compiler passed them over for a reason that still holds.
 */
export const shadowCandidates = (
  includes: ReadonlyArray<string>,
  searchDirs: ReadonlyArray<string>,
  cwd: string
): Map<string, Set<string>> => {
  const dirs = searchDirs.map((d) => path.resolve(cwd, d))
  const readerDirs = [...new Set(includes.map((f) => path.dirname(path.resolve(cwd, f))))]
  const out = new Map<string, Set<string>>()
  for (const file of includes) {
    const abs = path.resolve(cwd, file)
    const k = dirs.findIndex((d) => abs.startsWith(d === "/" ? d : d + "/"))
    if (k < 0) continue
    const rel = abs.slice(dirs[k]!.length + (dirs[k] === "/" ? 0 : 1))
    for (const d of [...dirs.slice(0, k), ...readerDirs]) {
      const candidate = path.join(d, rel)
      if (candidate === abs) continue
      const dir = path.dirname(candidate)
      let names = out.get(dir)
      if (names === undefined) out.set(dir, (names = new Set()))
      names.add(path.basename(candidate))
    }
  }
  return out
}
