import { Context, Deferred, Effect, Layer } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../compiler/CompilerRunner.ts"
import { parseDepFile } from "../compiler/DepFile.ts"
import { type GccCompilation, mappedCwd, parseGccArgs } from "../compiler/GccArgs.ts"
import { FORCE_COLORS, showsColors, stripColors } from "../compiler/GccOptions.ts"
import { IncludeSearch } from "../compiler/IncludeSearch.ts"
import { ASSEMBLER_READS_FILES, assemblerReadsFiles, statsLanguage } from "../compiler/Language.ts"
import { expandResponseFiles } from "../compiler/ResponseFiles.ts"
import { DaemonConfig } from "../config/Config.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import type { Compiled, CompileRequest } from "../protocol/Messages.ts"
import { bump, record, Stats, type StatsSnapshot } from "../stats/Stats.ts"
import { depFromTemplate, depToTemplate, keyPath, logicalCwd, rebaseGccArgs, relativizePath } from "./BaseDirs.ts"
import { type CacheEntry, fromTable, placeFiles } from "./CacheEntry.ts"
import { KeyHistory } from "../explain/KeyHistory.ts"
import { keyInputsOf } from "../explain/KeyInputs.ts"
import { cKey, keyEnv, withExtraFiles } from "./CKey.ts"
import { EntryCache } from "./EntryCache.ts"
import { type FileDigest, FileDigests } from "./FileDigests.ts"
import { addCandidate, candidateReachable, decodeManifest, dependResultKey, depTargets, encodeManifest, includeRoots, type Manifest, type ManifestCandidate, manifestKey, shadowCandidates, verifiedDepText } from "./Manifest.ts"
import { type CompileOutcome, compiled, runLocally } from "./Outcome.ts"
import { nonRegularOutput, writeAtomically } from "./OutputWriter.ts"
import { decodedOnce } from "../storage/MemoryTier.ts"

export const readUtf8 = (cwd: string) => (file: string): string | undefined => {
  try {
    return fs.readFileSync(path.resolve(cwd, file), "utf8")
  } catch {
    return undefined
  }
}

/**
 * File times come from the kernel's coarse clock, which runs a few milliseconds behind the wall
 * clock: a change this close before the start may really have happened after it.
 */
const CLOCK_SLACK_MS = 10

/** Every file the key was computed from must be older than the compile, or the entry could lie. */
const modifiedSince = (files: Iterable<string>, cwd: string, startedMs: number) =>
  Effect.promise(async () => {
    const limit = startedMs - CLOCK_SLACK_MS
    for (const f of files) {
      const st = await fsp.stat(path.resolve(cwd, f)).catch(() => undefined)
      if (st === undefined || st.mtimeMs >= limit || st.ctimeMs >= limit) return true
    }
    return false
  })

const cpuFingerprint = (() => {
  let cached: string | undefined
  return () => (cached ??= (() => {
    try {
      const info = fs.readFileSync("/proc/cpuinfo", "utf8")
      return [/^model name.*$/m, /^flags.*$/m].map((r) => r.exec(info)?.[0] ?? "").join("\n")
    } catch {
      return os.cpus()[0]?.model ?? "unknown"
    }
  })())
})()

/**
 * How paths enter keys for one compile. Paths under the working directory or a base directory
 * (SCCACHE_BASEDIRS) are made relative, so another build directory or checkout shares the
 * entries — unless the object records where it was built: -g without a prefix map hiding the
 * working directory, or a recorded command line. Then every path is absolute.
 */
interface PathView {
  readonly relocatable: boolean
  readonly bases: ReadonlyArray<string>
  readonly key: (file: string) => string
  /** Arguments and the input as the key spells them (see keyPath). */
  readonly args: (args: ReadonlyArray<string>) => ReadonlyArray<string>
  readonly spelled: (file: string) => string
}

const pathView = (c: GccCompilation, cwd: string, basedirs: ReadonlyArray<string>): PathView => {
  const relocatable = !c.recordsSwitches && !c.recordsOutputPath && (!c.recordsCwd || mappedCwd(cwd, c.prefixMaps) !== cwd)
  const bases = [...new Set([...basedirs, cwd])].sort((a, b) => b.length - a.length)
  return {
    relocatable,
    bases,
    key: relocatable ? (f) => relativizePath(path.resolve(cwd, f), cwd, bases) : (f) => path.resolve(cwd, f),
    args: relocatable ? (a) => rebaseGccArgs(a, cwd, bases) : (a) => a,
    spelled: relocatable ? (f) => keyPath(f, cwd, bases) : (f) => f
  }
}

/** Diagnostics are stored colored; a client whose stderr shows none gets them plain. */
const withoutColors = <A extends Compiled>(reply: A): A => ({ ...reply, stderr: stripColors(Buffer.from(reply.stderr, "base64")).toString("base64") })

/** gcc and clang compiles through the cache: direct mode, depend mode, preprocessor mode. */
export class CCompile extends Context.Service<CCompile, {
  readonly compile: (req: CompileRequest, compiler: CompilerInfo) => Effect.Effect<CompileOutcome>
}>()("sccache-ts/cache/CCompile") {
  static readonly layer = Layer.effect(CCompile, Effect.gen(function*() {
    const runner = yield* CompilerRunner
    const cache = yield* EntryCache
    const stats = yield* Stats
    const jobs = yield* Jobserver
    const config = yield* DaemonConfig
    const digests = yield* FileDigests
    const history = yield* KeyHistory
    const search = yield* IncludeSearch
    /**
     * Manifest keys whose files use time macros (or __FILE__ under base directories): the result
     * depends on more than the files, so these compiles always take the preprocessor path.
     */
    const preprocessorOnly = new Set<string>()
    /** Compiles under way, by flight key: identical ones arriving meanwhile wait for them. */
    const inFlight = new Map<string, Deferred.Deferred<void>>()

    const count = (f: (s: StatsSnapshot) => void) => stats.update(f)
    const decodeManifestOnce = decodedOnce(decodeManifest)

    /**
     * Single flight: `compile` for a miss, unless an identical compile (same key, working directory
     * and output) is under way. Then this one waits for it and looks again, which waits for its
     * cache write; if that misses too (it failed, or its outputs were not stored), it compiles.
     */
    const singleFlight = (
      flight: string,
      lookAgain: Effect.Effect<CompileOutcome | undefined>,
      compile: Effect.Effect<CompileOutcome>
    ): Effect.Effect<CompileOutcome> =>
      // Registering and the cleanup that completes the waiters can't be torn apart by an interruption.
      Effect.uninterruptibleMask((restore) => {
        const pending = inFlight.get(flight)
        if (pending !== undefined) {
          return restore(Deferred.await(pending).pipe(
            Effect.andThen(lookAgain),
            Effect.flatMap((hit) => (hit !== undefined ? Effect.succeed(hit) : compile))
          ))
        }
        const done = Deferred.makeUnsafe<void>()
        inFlight.set(flight, done)
        return restore(compile).pipe(Effect.ensuring(Effect.sync(() => {
          inFlight.delete(flight)
          Deferred.doneUnsafe(done, Effect.void)
        })))
      })
    const flightKey = (key: string, req: CompileRequest, c: GccCompilation) => `${key}\0${req.cwd}\0${c.output}`

    const notCached = (reason: string, nonCompilation = false) =>
      count((s) => {
        if (nonCompilation) s.non_compilation_calls++
        else {
          s.non_cacheable_calls++
          bump(s.not_cached, reason)
        }
      }).pipe(Effect.as(runLocally(reason)))

    const restore = Effect.fn("CCompile.restore")(function*(req: CompileRequest, c: GccCompilation, entry: CacheEntry) {
      const mode = 0o666 & ~req.umask
      const paths: Record<string, string> = { obj: c.output }
      for (const side of c.sideOutputs) paths[side.role] = side.file
      // An entry that names an output this invocation doesn't make, or lacks one, is not this compile's.
      const placed = placeFiles(entry, fromTable(paths), Object.keys(paths))
      if (placed === undefined) return false
      const t0 = performance.now()
      for (const f of placed) yield* writeAtomically(path.resolve(req.cwd, f.file), f.data, mode)
      yield* count((s) => record(s.output_write_duration, performance.now() - t0))
      return true
    })

    const collectOutputs = (req: CompileRequest, c: GccCompilation) =>
      Effect.promise(async () => {
        const files: Array<{ role: string; mode: number; data: Uint8Array }> = []
        for (const { role, file } of [{ role: "obj", file: c.output }, ...c.sideOutputs]) {
          const data = await fsp.readFile(path.resolve(req.cwd, file)).catch(() => undefined)
          if (data === undefined) return undefined
          files.push({ role, mode: 0o644, data })
        }
        return files
      })

    const readManifest = (key: string, opts?: { readonly wait: boolean }) =>
      cache.lookupBlob(key, opts).pipe(Effect.flatMap((blob) => {
        if (blob === undefined) return Effect.succeed(undefined)
        // A corrupt manifest is a miss, counted; the next compile writes a good one over it.
        return Effect.promise(() => decodeManifestOnce(key, blob)).pipe(Effect.flatMap((m) =>
          m !== undefined ? Effect.succeed(m) : count((s) => void s.cache_read_errors++).pipe(Effect.as(undefined))
        ))
      }))

    /**
     * The digests of what a compile read, or why they can't stand for it: a file changed since
     * the compile started would pair its new digest with the old result.
     */
    const digestAll = (read: ReadonlyArray<string>, cwd: string, view: PathView, started: number) => {
      const includes: Array<readonly [string, string]> = []
      const scanned: Array<FileDigest> = []
      for (const f of read) {
        const d = digests.digest(path.resolve(cwd, f))
        if (d === undefined) return "unreadable" as const
        if (d.changedMs >= started - CLOCK_SLACK_MS) return "modified" as const
        includes.push([view.key(f), d.digest])
        scanned.push(d)
      }
      if (scanned.some((d) => d.incbin)) return "incbin" as const
      if (scanned.some((d) => d.timeMacros)) return "time" as const
      // __FILE__ holds paths as the compiler found them: only a rebased absolute path makes it differ.
      // (compared normalised: clang reaches libstdc++ through /usr/bin/../lib/gcc/…/../../../../include).
      const rebased = view.relocatable && [...read].some((f) => path.isAbsolute(f) && view.key(f) !== path.normalize(f))
      if (rebased && scanned.some((d) => d.fileMacros)) return "file" as const
      return includes.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    }

    /** Does a candidate still describe the files on disk? */
    const matches = (cand: ManifestCandidate, cwd: string, view: PathView, roots: ReadonlyArray<string>): boolean => {
      const back = (f: string) => (view.relocatable ? path.resolve(cwd, f) : f)
      // Shared manifests are input from others: only files this compile's include search can reach are read.
      if (!candidateReachable(cand, back, roots)) return false
      for (const [f, d] of cand.includes) if (digests.digest(back(f))?.digest !== d) return false
      for (const [dir, names] of cand.absent) if (!digests.absent(back(dir), names)) return false
      return true
    }

    /**
     * A manifest candidate for a finished compile, or undefined when direct mode can't vouch for
     * it. `includes` are the digests taken of `read` (computed here when not given).
     */
    const candidateFor = Effect.fn("CCompile.candidateFor")(function*(
      req: CompileRequest,
      compiler: CompilerInfo,
      c: GccCompilation,
      view: PathView,
      started: number,
      result: string,
      read: ReadonlyArray<string>,
      depText: string | undefined,
      known?: ManifestCandidate["includes"]
    ) {
      // A compile that writes a .d can't hit without one to write.
      if (c.dep !== undefined && depText === undefined) return undefined
      const includes = known ?? digestAll(read, req.cwd, view, started)
      if (typeof includes === "string") return undefined
      const dirs = yield* search.dirs(req.exe, compiler, c, { cwd: req.cwd, env: req.env })
      if (dirs === undefined) return undefined
      const absent: Array<readonly [string, Array<string>]> = []
      for (const [dir, names] of shadowCandidates(read, dirs, req.cwd)) {
        const missing: Array<string> = []
        for (const n of names) {
          if (digests.absent(dir, [n])) missing.push(n)
          // One that exists was passed over by the compiler, unless it only just appeared.
          else if ((digests.digest(path.join(dir, n))?.changedMs ?? 0) >= started - CLOCK_SLACK_MS) return undefined
        }
        if (missing.length > 0) absent.push([view.key(dir), missing.sort()])
      }
      const candidate: ManifestCandidate = {
        result,
        includes,
        absent,
        ...(depText !== undefined ? { dep: depToTemplate(depText, req.cwd, view.relocatable ? view.bases : []) } : {})
      }
      return candidate
    })

    const storeCandidate = (mkey: string, candidate: ManifestCandidate | undefined) =>
      candidate === undefined
        ? Effect.void
        : readManifest(mkey, { wait: false }).pipe(
          Effect.flatMap((m) => Effect.promise(() => encodeManifest(mkey, addCandidate(m, candidate)))),
          Effect.flatMap((blob) => (blob instanceof Error ? Effect.void : cache.storeBlob(mkey, blob)))
        )

    const readDep = (req: CompileRequest, c: GccCompilation) =>
      c.dep === undefined ? Effect.succeed(undefined) : Effect.promise(() => fsp.readFile(path.resolve(req.cwd, c.dep!.file), "utf8").catch(() => undefined))

    /** `since` is a performance.now() reading: a hit takes a few milliseconds, below Date's grain. */
    const hitStats = (lang: string, family: string, since: number, direct: boolean) =>
      count((s) => {
        bump(s.cache_hits, lang)
        bump(s.adv_cache_hits, `${lang} [${family}]`)
        bump(direct ? s.direct_hits : s.preprocessor_hits, lang)
        record(s.cache_read_hit_duration, performance.now() - since)
      })

    /** Runs the real compile; success gives the outputs read back, ready to store. */
    const runCompile = Effect.fn("CCompile.runCompile")(function*(req: CompileRequest, c: GccCompilation, args: ReadonlyArray<string>, lang: string, family: string) {
      yield* count((s) => {
        bump(s.cache_misses, lang)
        bump(s.adv_cache_misses, `${lang} [${family}]`)
      })
      const compileStarted = Date.now()
      const out = yield* jobs.withToken(runner.run(req.exe, c.colorsForced ? [...args, FORCE_COLORS] : args, { cwd: req.cwd, env: req.env })).pipe(Effect.result)
      if (out._tag === "Failure") return { _tag: "Unrunnable" as const, reason: out.failure.message }
      const result = out.success
      yield* count((s) => {
        s.compilations++
        record(s.compiler_write_duration, Date.now() - compileStarted)
        if (result.exitCode !== 0) s.compile_fails++
      })
      const reply = compiled(result.exitCode, result.stdout, result.stderr, result.signal)
      if (result.exitCode !== 0) return { _tag: "Failed" as const, reply }
      const files = yield* collectOutputs(req, c)
      if (files === undefined) {
        yield* count((s) => void bump(s.not_cached, "output file missing"))
        return { _tag: "Failed" as const, reply }
      }
      return { _tag: "Compiled" as const, reply, entry: { exitCode: 0, stdout: result.stdout, stderr: result.stderr, files } }
    })

    const compile = Effect.fn("CCompile.compile")(function*(request: CompileRequest, compiler: CompilerInfo) {
      const req = { ...request, cwd: logicalCwd(request.cwd, request.env["PWD"]) }
      const args = expandResponseFiles(req.args, readUtf8(req.cwd))
      if (args === undefined) return yield* notCached("response files nested too deep")
      const parsed = parseGccArgs(args, compiler.family === "clang" ? "clang" : "gcc", req.env)
      if (parsed._tag === "NotCacheable") return yield* notCached(parsed.reason, parsed.nonCompilation === true)
      const c = parsed.compilation
      const special = nonRegularOutput(req.cwd, [c.output, ...c.sideOutputs.map((o) => o.file), ...(c.dep !== undefined ? [c.dep.file] : [])])
      if (special !== undefined) return yield* notCached(special)
      const outcome = yield* compileParsed(req, compiler, c)
      return outcome.type === "compiled" && !showsColors(c.colors, req.stderrTty === true, req.env) ? withoutColors(outcome) : outcome
    })

    const compileParsed = Effect.fn("CCompile.compileParsed")(function*(req: CompileRequest, compiler: CompilerInfo, c: GccCompilation) {
      const lang = statsLanguage(c.language)
      const env = withExtraFiles(req.env, req.cwd, (f) => digests.digest(f)?.digest)
      if ("missing" in env) return yield* notCached(`SCCACHE_EXTRAFILES: cannot read ${env.missing}`)
      const started = Date.now()
      const clock = performance.now()
      const view = pathView(c, req.cwd, config.basedirs)
      const cpu = c.nativeCpu ? cpuFingerprint() : ""
      // What --explain and the debug log compare a miss against.
      const remember = (key: string, read: ReadonlyArray<string>, outcome: "hit" | "miss") =>
        history.record(keyInputsOf({
          key, ...(mkey === undefined ? {} : { manifest: mkey }), cwd: req.cwd, input: c.input, output: c.output,
          compiler: compiler.identity, args: c.directArgs, env: keyEnv(env), read
        }, (f) => digests.digest(f)?.digest), outcome)
      // Files options name (sanitizer lists, profiles, specs): their content is part of every key.
      const fileDigests: Array<string> = []
      for (const f of c.keyFiles) {
        const d = digests.digest(path.resolve(req.cwd, f))
        if (d === undefined) return yield* notCached("option names an unreadable file or a directory")
        fileDigests.push(`${view.spelled(f)}\0${d.digest}`)
      }

      // Direct mode: no preprocessor, when the manifest's files are all as they were.
      let mkey: string | undefined
      if (config.direct && c.directModeOk && !c.hashInputDirectly) {
        const input = digests.digest(path.resolve(req.cwd, c.input))
        if (input === undefined) return yield* notCached("input file missing")
        if (input.incbin) return yield* notCached(ASSEMBLER_READS_FILES)
        mkey = manifestKey({
          compiler,
          driver: req.exe,
          compilation: c,
          args: [...view.args(c.directArgs), ...fileDigests],
          input: view.spelled(c.input),
          inputDigest: input.digest,
          cwd: view.relocatable ? (c.recordsCwd ? mappedCwd(req.cwd, c.prefixMaps) : undefined) : req.cwd,
          env,
          cpu
        })
        if (input.timeMacros || preprocessorOnly.has(mkey)) mkey = undefined
      }
      const directHit = (key: string) =>
        Effect.gen(function*() {
          const manifest: Manifest | undefined = yield* readManifest(key)
          if (manifest === undefined || manifest.candidates.length === 0) return undefined
          const dirs = yield* search.dirs(req.exe, compiler, c, { cwd: req.cwd, env: req.env })
          if (dirs === undefined) return undefined
          const roots = includeRoots(req.cwd, c.input, dirs)
          for (const cand of manifest.candidates) {
            if ((c.dep !== undefined && cand.dep === undefined) || !matches(cand, req.cwd, view, roots)) continue
            // The .d names only what was just verified, never text from the cache as it stands.
            const verified = new Set(cand.includes.map(([f]) => path.resolve(req.cwd, f)))
            const depText = cand.dep === undefined ? undefined : verifiedDepText(depFromTemplate(cand.dep, req.cwd), req.cwd, verified, depTargets(c))
            if (c.dep !== undefined && depText === undefined) continue
            const entry = yield* cache.lookup(cand.result)
            if (entry === undefined) continue
            if (!(yield* restore(req, c, entry).pipe(Effect.orElseSucceed(() => false)))) return undefined
            if (c.dep !== undefined && depText !== undefined) {
              const wrote = yield* writeAtomically(path.resolve(req.cwd, c.dep.file), Buffer.from(depText), 0o666 & ~req.umask).pipe(
                Effect.as(true),
                Effect.orElseSucceed(() => false)
              )
              if (!wrote) return undefined
            }
            yield* hitStats(lang, compiler.family, clock, true)
            yield* remember(cand.result, cand.includes.map(([f]) => f), "hit")
            return compiled(entry.exitCode, entry.stdout, entry.stderr)
          }
          return undefined
        })
      if (mkey !== undefined && !config.recache) {
        const hit = yield* directHit(mkey)
        if (hit !== undefined) return hit
      }

      // Depend mode: compile straight away and learn the headers from its dependency file.
      if (mkey !== undefined && (c.dep === undefined || c.dep.full)) {
        const key = mkey
        const depend = Effect.gen(function*() {
          const tmpDep = c.dep === undefined ? path.join(os.tmpdir(), `sccache-ts-${process.pid}-${randomBytes(6).toString("hex")}.d`) : undefined
          const compileArgs = tmpDep === undefined ? req.args : [...req.args, "-MD", "-MF", tmpDep]
          if (config.recache) yield* count((s) => void s.forced_recaches++)
          const done = yield* runCompile(req, c, compileArgs, lang, compiler.family)
          const depText = yield* Effect.promise(() => fsp.readFile(path.resolve(req.cwd, tmpDep ?? c.dep!.file), "utf8").catch(() => undefined))
          if (tmpDep !== undefined) yield* Effect.promise(() => fsp.rm(tmpDep, { force: true }))
          if (done._tag === "Unrunnable") return runLocally(done.reason)
          if (done._tag === "Failed") return done.reply
          // Files options name count as read: one changed during the compile must not be stored.
          const read = depText === undefined ? undefined : [...new Set([...parseDepFile(depText), ...c.keyFiles])]
          if (read === undefined || read.length === 0) {
            yield* count((s) => void bump(s.not_cached, "dependency file missing"))
            return done.reply
          }
          const includes = digestAll(read, req.cwd, view, started)
          if (typeof includes === "string") {
            if (includes === "time" || includes === "file") preprocessorOnly.add(key)
            const why = { incbin: ASSEMBLER_READS_FILES, time: "time macros", file: "__FILE__ with base directories", unreadable: "dependency unreadable", modified: "input modified during compile" }[includes]
            yield* count((s) => void bump(s.not_cached, why))
            return done.reply
          }
          const result = dependResultKey(key, includes)
          yield* remember(result, read, "miss")
          const learnDepend = candidateFor(req, compiler, c, view, started, result, read, c.dep === undefined ? undefined : depText, includes)
          const background = yield* cache.writeLater([result, key], cache.store(result, done.entry).pipe(
            Effect.andThen(learnDepend),
            Effect.flatMap((cand) => storeCandidate(key, cand))
          ))
          return { ...done.reply, background }
        })
        return yield* (config.recache ? depend : singleFlight(flightKey(key, req, c), directHit(key), depend))
      }

      // Preprocessor mode: the key's text is the preprocessor's output, which also writes the .d.
      let sourceDigest: string
      let read: ReadonlyArray<string>
      if (c.hashInputDirectly) {
        const data = yield* Effect.promise(() => fsp.readFile(path.resolve(req.cwd, c.input)).catch(() => undefined))
        if (data === undefined) return yield* notCached("input file missing")
        if (c.language === "assembler" && assemblerReadsFiles(data.toString("latin1"))) return yield* notCached(ASSEMBLER_READS_FILES)
        sourceDigest = createHash("sha256").update(data).digest("hex")
        read = [c.input, ...c.keyFiles]
      } else {
        const mapPath = view.relocatable ? view.key : undefined
        const pre = yield* jobs.withToken(runner.preprocess(req.exe, c.preprocessArgs, { cwd: req.cwd, env: req.env, ...(mapPath ? { mapPath } : {}) })).pipe(Effect.result)
        if (pre._tag === "Failure" || pre.success.exitCode !== 0) return yield* notCached("preprocessing failed")
        if (pre.success.incbin) return yield* notCached(ASSEMBLER_READS_FILES)
        sourceDigest = pre.success.digest
        read = [...new Set([c.input, ...pre.success.includes, ...c.keyFiles])]
      }
      const key = cKey({
        compiler,
        driver: req.exe,
        compilation: { ...c, keyArgs: view.args(c.keyArgs) },
        files: fileDigests,
        cwd: req.cwd,
        env,
        sourceDigest,
        cpu
      })
      const learn = (depText: string | undefined) =>
        mkey === undefined ? Effect.void : candidateFor(req, compiler, c, view, started, key, read, depText).pipe(Effect.flatMap((cand) => storeCandidate(mkey, cand)))

      const preprocessedHit = Effect.gen(function*() {
        const entry = yield* cache.lookup(key)
        if (entry === undefined) return undefined
        if (yield* restore(req, c, entry).pipe(Effect.orElseSucceed(() => false))) {
          yield* hitStats(lang, compiler.family, clock, false)
          yield* remember(key, read, "hit")
          const depText = yield* readDep(req, c)
          const background = yield* cache.writeLater(mkey === undefined ? [] : [mkey], learn(depText))
          return { ...compiled(entry.exitCode, entry.stdout, entry.stderr), background }
        }
        // Could not put the outputs in place (say, a missing directory): let the compiler say why.
        yield* count((s) => void bump(s.cache_errors, lang))
        return runLocally("could not write cached outputs")
      })
      if (config.recache) {
        yield* count((s) => void s.forced_recaches++)
      } else {
        const hit = yield* preprocessedHit
        if (hit !== undefined) return hit
      }

      const miss = Effect.gen(function*() {
        yield* remember(key, read, "miss")
        const done = yield* runCompile(req, c, req.args, lang, compiler.family)
        if (done._tag === "Unrunnable") return runLocally(done.reason)
        if (done._tag === "Failed") return done.reply
        // Checked before replying: once make has the outputs it may change them.
        if (yield* modifiedSince(read, req.cwd, started)) {
          yield* count((s) => void bump(s.not_cached, "input modified during compile"))
          return done.reply
        }
        const depText = yield* readDep(req, c)
        const background = yield* cache.writeLater(mkey === undefined ? [key] : [key, mkey], cache.store(key, done.entry).pipe(Effect.andThen(learn(depText))))
        return { ...done.reply, background }
      })
      return yield* (config.recache ? miss : singleFlight(flightKey(key, req, c), preprocessedHit, miss))
    })

    return CCompile.of({ compile })
  }))
}
