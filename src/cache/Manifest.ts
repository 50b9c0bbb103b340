import { Exit, Schema } from "effect"
import * as path from "node:path"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import type { GccCompilation } from "../compiler/GccArgs.ts"
import { INCLUDE_PATH_ENV } from "../compiler/GccOptions.ts"
import { decodeEntry, encodeEntry, EntryCorrupt, EntryOutdated, type EntryTooLarge } from "./CacheEntry.ts"
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

/** Far above any real manifest (16 candidates of a few thousand headers): a bigger blob is not read. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024

const Candidate = Schema.Struct({
  // Looked up as a key: a hex digest, never a path or another backend's name.
  result: Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/)),
  includes: Schema.Array(Schema.Tuple([Schema.String, Schema.String])),
  absent: Schema.Array(Schema.Tuple([Schema.String, Schema.Array(Schema.String)])),
  dep: Schema.optionalKey(Schema.String)
})
const ManifestSchema = Schema.Struct({ candidates: Schema.Array(Candidate).check(Schema.isMaxLength(MAX_CANDIDATES)) })
const decodeManifestJson = Schema.decodeUnknownExit(Schema.fromJsonString(ManifestSchema))

// Manifests travel as cache entries (checksummed, compressed, naming their key), holding one JSON file.
export const encodeManifest = (key: string, m: Manifest): Promise<Uint8Array | EntryTooLarge> =>
  encodeEntry(key, { files: [{ role: "manifest", mode: 0o644, data: Buffer.from(JSON.stringify(m)) }], stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0 })

/** The manifest stored under `key`, or why the blob is not one; checked field by field. */
export const decodeManifest = async (key: string, blob: Uint8Array): Promise<Manifest | EntryCorrupt | EntryOutdated> => {
  const entry = await decodeEntry(key, blob, MAX_MANIFEST_BYTES)
  if (entry instanceof Error) return entry
  if (entry.files.length !== 1 || entry.files[0]!.role !== "manifest") return new EntryCorrupt({ message: "not a manifest" })
  const m = decodeManifestJson(Buffer.from(entry.files[0]!.data).toString("utf8"))
  return Exit.isSuccess(m) ? m.value : new EntryCorrupt({ message: "malformed manifest", cause: m.cause })
}

/** Pseudo file systems: files there lie about their size, block, or are not the user's headers. */
const PSEUDO = ["/proc", "/sys", "/dev"]

const under = (file: string, dir: string): boolean => file === dir || file.startsWith(dir === "/" ? dir : dir + "/")

/**
 * Pure: the directories whose files this compile's include search can reach: the source's
 * directory, the working directory, and the search path (the -iquote, -I, -isystem, -idirafter
 * directories and the compiler's own), all absolute.
 */
export const includeRoots = (cwd: string, input: string, searchDirs: ReadonlyArray<string>): Array<string> =>
  [...new Set([path.dirname(path.resolve(cwd, input)), cwd, ...searchDirs.map((d) => path.resolve(cwd, d))])]

/**
 * Pure: whether `file` is a plain absolute path (as the daemon will open it) under one of
 * `roots`, outside the pseudo file systems.
 */
export const reachable = (file: string, roots: ReadonlyArray<string>): boolean =>
  path.isAbsolute(file) && path.normalize(file) === file && !PSEUDO.some((p) => under(file, p)) &&
  roots.some((r) => under(file, r))

/**
 * Pure: whether a candidate names only files and directories the include search can reach, each
 * as `locate` turns it into the path that would be opened. A manifest comes from a shared cache:
 * one that names `/proc/self/pagemap` or `~/.ssh/id_rsa` is never read for it, and is a miss.
 */
export const candidateReachable = (c: ManifestCandidate, locate: (f: string) => string, roots: ReadonlyArray<string>): boolean =>
  c.includes.every(([f]) => reachable(locate(f), roots)) && c.absent.every(([d, names]) =>
    reachable(locate(d), roots) && names.every((n) => n !== "" && !n.includes("/") && n !== "." && n !== ".."))

/** Pure: the targets this compile's own `.d` names: its -MT/-MQ values, else its output. */
export const depTargets = (c: GccCompilation): Array<string> => {
  const given = (c.dep?.targets ?? []).filter((_, i) => i % 2 === 1)
  // Without -MT/-MQ: the output, or (for -Wp,-MD) the preprocessor's own default, the source's stem.
  const values = given.length > 0 ? given : [c.output, path.basename(c.input).replace(/\.[^.]*$/, "") + ".o"]
  return [...new Set(values.flatMap((v) => [v, ...v.split(/\s+/)]))]
}

/** make's escapes in a dependency file: `\ `, `\#`, `$$`. */
const unescapeDep = (token: string) => token.replace(/\\(.)/g, "$1").replace(/\$\$/g, "$")

/**
 * Pure: the `.d` text a direct-mode hit writes, checked so that it says nothing but what the
 * hit just verified: every line a rule without a recipe, every prerequisite (and every -MP
 * phony target) one of the `verified` files (absolute, the digests just checked), every other
 * target one of `targets`, and no `$` make would expand. The text stored in a shared cache could
 * otherwise put `$(shell …)` or a recipe into a file make includes. Undefined: not this compile's.
 */
export const verifiedDepText = (
  text: string,
  cwd: string,
  verified: ReadonlySet<string>,
  targets: ReadonlyArray<string>
): string | undefined => {
  if (!text.endsWith("\n") || /[\0\r\t]/.test(text)) return undefined
  const isVerified = (token: string) =>
    !token.replace(/\$\$/g, "").includes("$") && verified.has(path.resolve(cwd, unescapeDep(token)))
  for (const line of text.replace(/\\\n/g, " ").split("\n")) {
    if (line.trim() === "") continue
    const colon = line.search(/(?<!\\):( |$)/)
    if (colon < 0) return undefined
    const words = (s: string) => s.split(/(?<!\\) +/).filter((w) => w !== "")
    const ruleTargets = words(line.slice(0, colon))
    if (ruleTargets.length === 0) return undefined
    if (!ruleTargets.every((t) => targets.includes(t) || targets.includes(unescapeDep(t)) || isVerified(t))) return undefined
    if (!words(line.slice(colon + 1)).every(isVerified)) return undefined
  }
  return text
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
  const files = includes.map((f) => path.resolve(cwd, f))
  const readerDirs = [...new Set(files.map((f) => path.dirname(f)))]
  // Every path here is absolute and normalised, so joining is concatenation (a few hundred a compile).
  const under = (d: string, rel: string) => (d === "/" ? "/" + rel : d + "/" + rel)
  const out = new Map<string, Set<string>>()
  for (const abs of files) {
    const k = dirs.findIndex((d) => abs.startsWith(d === "/" ? d : d + "/"))
    if (k < 0) continue
    const rel = abs.slice(dirs[k]!.length + (dirs[k] === "/" ? 0 : 1))
    if (rel === "") continue
    const slash = rel.lastIndexOf("/")
    const relDir = slash < 0 ? "" : rel.slice(0, slash)
    const base = rel.slice(slash + 1)
    const add = (d: string) => {
      if (under(d, rel) === abs) return
      const dir = relDir === "" ? d : under(d, relDir)
      let names = out.get(dir)
      if (names === undefined) out.set(dir, (names = new Set()))
      names.add(base)
    }
    for (let i = 0; i < k; i++) add(dirs[i]!)
    for (const d of readerDirs) add(d)
  }
  return out
}
