import { ASSEMBLER_READS_FILES } from "../compiler/Language.ts"
import { Context, Effect, Layer } from "effect"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { depFromTemplate, depToTemplate } from "../cache/BaseDirs.ts"
import { type CacheEntry, EntryOutdated } from "../cache/CacheEntry.ts"
import { EntryCache } from "../cache/EntryCache.ts"
import { type FileDigest, FileDigests, parentsFirst } from "../cache/FileDigests.ts"
import { addCandidate, candidateReachable, decodeManifest, encodeManifest, includeRoots, type ManifestCandidate, shadowCandidates, verifiedDepText } from "../cache/Manifest.ts"
import { writeAtomically } from "../cache/OutputWriter.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { Stats } from "../stats/Stats.ts"
import { decodedOnce } from "../storage/MemoryTier.ts"
import type { Direct, Outputs, PathView, Replay } from "./Family.ts"

/**
 * File times come from the kernel's coarse clock, which runs a few milliseconds behind the wall
 * clock: a change this close before the start may really have happened after it.
 */
export const CLOCK_SLACK_MS = 10

/** Why the files a compile read can't stand for its result (counted as not stored). */
export type Unvouched = "incbin" | "time" | "file" | "unreadable" | "modified"

export const UNVOUCHED_REASON: Readonly<Record<Unvouched, string>> = {
  incbin: ASSEMBLER_READS_FILES,
  time: "time macros",
  file: "__FILE__ with base directories",
  unreadable: "dependency unreadable",
  modified: "input modified during compile"
}

export type Includes = ManifestCandidate["includes"]

/** The digests of what a compile read: for its manifest (`includes`), and by absolute path. */
export interface Digested {
  readonly includes: Includes
  readonly known: ReadonlyMap<string, string>
}

/** A direct-mode hit: the entry, put in place with its dependency file; its key and what it read. */
export interface DirectHit {
  readonly entry: CacheEntry
  readonly replay: Replay
  readonly result: string
  readonly read: ReadonlyArray<string>
  /** The digests just verified, by absolute path: what it read need not be looked at again. */
  readonly known: ReadonlyMap<string, string>
}

/** Manifests: looked up before any preprocessor runs, and learnt from finished compiles. */
export class DirectMode extends Context.Service<DirectMode, {
  /** Manifest keys whose results depend on more than files (time macros): never looked up again. */
  readonly excluded: (mkey: string) => boolean
  readonly lookup: (req: CompileRequest, d: Direct, outputs: Outputs) => Effect.Effect<DirectHit | undefined>
  /** The digests of what a compile read, or why they can't stand for it. */
  readonly digestAll: (read: ReadonlyArray<string>, cwd: string, view: PathView, started: number) => Digested | Unvouched
  /** Remembers that `mkey`'s result depends on more than its files (after digestAll said so). */
  readonly exclude: (mkey: string, why: Unvouched) => void
  /**
   * The dependency file the compile wrote, read before the reply (ninja deletes it once read).
   * Its text goes to `learn`.
   */
  readonly readDep: (req: CompileRequest, d: Direct | undefined) => Effect.Effect<string | undefined>
  /** Adds a finished compile to its manifest (`includes`: digestAll's answer, when already taken). */
  readonly learn: (
    req: CompileRequest,
    d: Direct,
    started: number,
    result: string,
    read: ReadonlyArray<string>,
    depText: string | undefined,
    includes?: Includes
  ) => Effect.Effect<void>
}>()("sccache-ts/pipeline/DirectMode") {
  static readonly layer = Layer.effect(DirectMode, Effect.gen(function*() {
    const cache = yield* EntryCache
    const digests = yield* FileDigests
    const stats = yield* Stats
    const excluded = new Set<string>()
    const decodeManifestOnce = decodedOnce(decodeManifest)
    /**
     * Reachability is pure in (candidate, working directory, include roots), and a decoded manifest
     * is kept (decodedOnce) while its blob is: a repeat hit doesn't walk the paths again.
     */
    const reachableMemo = new WeakMap<ManifestCandidate, Map<string, boolean>>()
    const reachableFor = (cand: ManifestCandidate, back: (f: string) => string, where: string, roots: ReadonlyArray<string>) => {
      let known = reachableMemo.get(cand)
      if (known === undefined) reachableMemo.set(cand, (known = new Map()))
      const k = `${where}\0${roots.join("\0")}`
      let ok = known.get(k)
      if (ok === undefined) known.set(k, (ok = candidateReachable(cand, back, roots)))
      return ok
    }

    const readManifest = (key: string, opts?: { readonly wait: boolean }) =>
      cache.lookupBlob(key, opts).pipe(Effect.flatMap((blob) => {
        if (blob === undefined) return Effect.succeed(undefined)
        // A corrupt manifest is a miss, counted; the next compile writes a good one over it.
        return Effect.promise(() => decodeManifestOnce(key, blob)).pipe(Effect.flatMap((m) =>
          m instanceof EntryOutdated ? Effect.succeed(undefined) :
          m instanceof Error ? stats.update((s) => void s.cache_read_errors++).pipe(Effect.as(undefined)) :
          Effect.succeed(m)
        ))
      }))

    const digestAll = (read: ReadonlyArray<string>, cwd: string, view: PathView, started: number): Digested | Unvouched => {
      const includes: Array<readonly [string, string]> = []
      const known = new Map<string, string>()
      const scanned: Array<FileDigest> = []
      for (const f of read) {
        const abs = path.resolve(cwd, f)
        const d = digests.digest(abs)
        if (d === undefined) return "unreadable"
        // A file changed since the compile started would pair its new digest with the old result.
        if (d.changedMs >= started - CLOCK_SLACK_MS) return "modified"
        includes.push([view.key(f), d.digest])
        known.set(abs, d.digest)
        scanned.push(d)
      }
      if (scanned.some((d) => d.incbin)) return "incbin"
      if (scanned.some((d) => d.timeMacros)) return "time"
      // __FILE__ holds paths as the compiler found them: only a rebased absolute path makes it differ.
      // (compared normalised: clang reaches libstdc++ through /usr/bin/../lib/gcc/…/../../../../include).
      const rebased = view.relocatable && read.some((f) => path.isAbsolute(f) && view.key(f) !== path.normalize(f))
      if (rebased && scanned.some((d) => d.fileMacros)) return "file"
      return { includes: includes.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)), known }
    }

    /** Does a candidate still describe the files on disk? */
    const matches = (cand: ManifestCandidate, cwd: string, view: PathView, roots: ReadonlyArray<string>): boolean => {
      const back = (f: string) => (view.relocatable ? path.resolve(cwd, f) : f)
      // Shared manifests are input from others: only files this compile's include search can reach are read.
      if (!reachableFor(cand, back, view.relocatable ? cwd : "", roots)) return false
      for (const [f, d] of cand.includes) if (digests.digest(back(f))?.digest !== d) return false
      return digests.allAbsent(cand.absent.map(([dir, names]) => [back(dir), names] as const))
    }

    /** A candidate for a finished compile, or undefined when direct mode can't vouch for it. */
    const candidateFor = Effect.fn("DirectMode.candidateFor")(function*(
      req: CompileRequest,
      d: Direct,
      started: number,
      result: string,
      read: ReadonlyArray<string>,
      depText: string | undefined,
      known: Includes | undefined
    ) {
      // A compile that writes a dependency file can't hit without one to write.
      if (d.depFile !== undefined && depText === undefined) return undefined
      let includes = known
      if (includes === undefined) {
        const digested = digestAll(read, req.cwd, d.view, started)
        if (typeof digested === "string") return undefined
        includes = digested.includes
      }
      const dirs = yield* d.searchDirs
      if (dirs === undefined) return undefined
      const absent: Array<readonly [string, Array<string>]> = []
      const isAbsent = digests.absence()
      for (const [dir, names] of parentsFirst(shadowCandidates(read, dirs, req.cwd))) {
        // Mostly none is there (most such directories don't exist): one look for them all.
        if (isAbsent(dir, names)) {
          absent.push([d.view.key(dir), [...names].sort()])
          continue
        }
        const missing: Array<string> = []
        for (const n of names) {
          if (isAbsent(dir, [n])) missing.push(n)
          // One that exists was passed over by the compiler, unless it only just appeared.
          else if ((digests.digest(path.join(dir, n))?.changedMs ?? 0) >= started - CLOCK_SLACK_MS) return undefined
        }
        if (missing.length > 0) absent.push([d.view.key(dir), missing.sort()])
      }
      const candidate: ManifestCandidate = {
        result,
        includes,
        absent,
        ...(depText !== undefined ? { dep: depToTemplate(depText, req.cwd, d.view.relocatable ? d.view.bases : []) } : {})
      }
      return candidate
    })

    return DirectMode.of({
      excluded: (mkey) => excluded.has(mkey),
      exclude: (mkey, why) => {
        if (why === "time" || why === "file") excluded.add(mkey)
      },
      digestAll,
      lookup: Effect.fn("DirectMode.lookup")(function*(req, d, outputs) {
        const manifest = yield* readManifest(d.manifestKey)
        if (manifest === undefined || manifest.candidates.length === 0) return undefined
        const dirs = yield* d.searchDirs
        if (dirs === undefined) return undefined
        const roots = includeRoots(req.cwd, d.input, dirs)
        for (const cand of manifest.candidates) {
          if ((d.depFile !== undefined && cand.dep === undefined) || !matches(cand, req.cwd, d.view, roots)) continue
          // The .d names only what was just verified, never text from the cache as it stands.
          const verified = new Set(cand.includes.map(([f]) => path.resolve(req.cwd, f)))
          const depText = cand.dep === undefined ? undefined : verifiedDepText(depFromTemplate(cand.dep, req.cwd), req.cwd, verified, d.depTargets)
          if (d.depFile !== undefined && depText === undefined) continue
          const entry = yield* cache.lookup(cand.result)
          if (entry === undefined) continue
          // Outputs that can't be put in place make this a miss: the compile that follows says why.
          const replay = yield* outputs.restore(entry).pipe(Effect.orElseSucceed(() => undefined))
          if (replay === undefined) return undefined
          if (d.depFile !== undefined && depText !== undefined) {
            const wrote = yield* writeAtomically(path.resolve(req.cwd, d.depFile), Buffer.from(depText), 0o666 & ~req.umask).pipe(
              Effect.as(true),
              Effect.orElseSucceed(() => false)
            )
            if (!wrote) return undefined
          }
          const known = new Map(cand.includes.map(([f, digest]) => [path.resolve(req.cwd, f), digest]))
          return { entry, replay, result: cand.result, read: cand.includes.map(([f]) => f), known }
        }
        return undefined
      }),
      readDep: (req, d) =>
        d?.depFile === undefined
          ? Effect.succeed(undefined)
          : Effect.promise(() => fsp.readFile(path.resolve(req.cwd, d.depFile!), "utf8").catch(() => undefined)),
      learn: (req, d, started, result, read, depText, includes) =>
        candidateFor(req, d, started, result, read, depText, includes).pipe(Effect.flatMap((cand) =>
          cand === undefined
            ? Effect.logDebug(`direct mode can't vouch for ${result}: not added to its manifest`)
            : readManifest(d.manifestKey, { wait: false }).pipe(
              Effect.flatMap((m) => Effect.promise(() => encodeManifest(d.manifestKey, addCandidate(m, cand)))),
              Effect.flatMap((blob) => (blob instanceof Error ? Effect.void : cache.storeBlob(d.manifestKey, blob)))
            )
        ), Effect.catchCause((cause) => Effect.logWarning(`direct mode: manifest ${d.manifestKey} not updated`, cause)))
    })
  }))
}
