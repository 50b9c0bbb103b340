import { Context, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../compiler/CompilerRunner.ts"
import { type GccCompilation, parseGccArgs } from "../compiler/GccArgs.ts"
import { statsLanguage } from "../compiler/Language.ts"
import { expandResponseFiles } from "../compiler/ResponseFiles.ts"
import { DaemonConfig } from "../config/Config.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { bump, Stats } from "../stats/Stats.ts"
import type { CacheEntry } from "./CacheEntry.ts"
import { cKey } from "./CKey.ts"
import { EntryCache } from "./EntryCache.ts"
import { type CompileOutcome, compiled, runLocally } from "./Outcome.ts"
import { writeAtomically } from "./OutputWriter.ts"

const readUtf8 = (cwd: string) => (file: string): string | undefined => {
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

/** gcc and clang compiles through the cache (preprocessor mode). */
export class CCompile extends Context.Service<CCompile, {
  readonly compile: (req: CompileRequest, compiler: CompilerInfo) => Effect.Effect<CompileOutcome>
}>()("sccache-ts/cache/CCompile") {
  static readonly layer = Layer.effect(CCompile, Effect.gen(function*() {
    const runner = yield* CompilerRunner
    const cache = yield* EntryCache
    const stats = yield* Stats
    const jobs = yield* Jobserver
    const config = yield* DaemonConfig

    const notCached = (reason: string, nonCompilation = false) =>
      stats.update((s) => {
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
      for (const f of entry.files) {
        const target = paths[f.role]
        // An entry that names an output this invocation doesn't make is not this compile's.
        if (target === undefined) return false
        yield* writeAtomically(path.resolve(req.cwd, target), f.data, mode)
      }
      return entry.files.length === 1 + c.sideOutputs.length
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

    const compile = Effect.fn("CCompile.compile")(function*(req: CompileRequest, compiler: CompilerInfo) {
      const args = expandResponseFiles(req.args, readUtf8(req.cwd))
      if (args === undefined) return yield* notCached("response files nested too deep")
      const parsed = parseGccArgs(args, compiler.family === "clang" ? "clang" : "gcc")
      if (parsed._tag === "NotCacheable") return yield* notCached(parsed.reason, parsed.nonCompilation === true)
      const c = parsed.compilation
      const lang = statsLanguage(c.language)
      const opts = { cwd: req.cwd, env: req.env }
      const started = Date.now()

      // The key's text: the preprocessor's output, which also writes this invocation's .d file.
      let sourceDigest: string
      let inputs: ReadonlySet<string>
      if (c.hashInputDirectly) {
        const data = yield* Effect.promise(() => fsp.readFile(path.resolve(req.cwd, c.input)).catch(() => undefined))
        if (data === undefined) return yield* notCached("input file missing")
        sourceDigest = createHash("sha256").update(data).digest("hex")
        inputs = new Set([c.input])
      } else {
        const pre = yield* jobs.withToken(runner.preprocess(req.exe, c.preprocessArgs, opts)).pipe(Effect.result)
        if (pre._tag === "Failure" || pre.success.exitCode !== 0) return yield* notCached("preprocessing failed")
        sourceDigest = pre.success.digest
        inputs = new Set([c.input, ...pre.success.includes])
      }
      const key = cKey({ compiler, driver: req.exe, compilation: c, cwd: req.cwd, env: req.env, sourceDigest, cpu: cpuFingerprint() })

      if (config.recache) {
        yield* stats.update((s) => void s.forced_recaches++)
      } else {
        const entry = yield* cache.lookup(key)
        if (entry !== undefined) {
          const restored = yield* restore(req, c, entry).pipe(Effect.orElseSucceed(() => false))
          if (restored) {
            yield* stats.update((s) => {
              bump(s.cache_hits, lang)
              bump(s.preprocessor_hits, lang)
              s.cache_read_hit_duration.count++
              s.cache_read_hit_duration.totalMs += Date.now() - started
            })
            return compiled(entry.exitCode, entry.stdout, entry.stderr)
          }
          // Could not put the outputs in place (say, a missing directory): let the compiler say why.
          yield* stats.update((s) => void bump(s.cache_errors, lang))
          return runLocally("could not write cached outputs")
        }
      }

      yield* stats.update((s) => {
        bump(s.cache_misses, lang)
        s.requests_executed++
      })
      const compileStarted = Date.now()
      const out = yield* jobs.withToken(runner.run(req.exe, req.args, opts)).pipe(Effect.result)
      if (out._tag === "Failure") return runLocally(out.failure.message)
      const result = out.success
      yield* stats.update((s) => {
        s.compilations++
        s.compiler_write_duration.count++
        s.compiler_write_duration.totalMs += Date.now() - compileStarted
        if (result.exitCode !== 0) s.compile_fails++
      })
      const reply = compiled(result.exitCode, result.stdout, result.stderr)
      if (result.exitCode !== 0) return reply

      // Read and check the outputs before replying: once make has them it may change them.
      if (yield* modifiedSince(inputs, req.cwd, started)) {
        yield* stats.update((s) => void bump(s.not_cached, "input modified during compile"))
        return reply
      }
      const files = yield* collectOutputs(req, c)
      if (files === undefined) {
        yield* stats.update((s) => void bump(s.not_cached, "output file missing"))
        return reply
      }
      const background = cache.store(key, { exitCode: 0, stdout: result.stdout, stderr: result.stderr, files })
      return { ...reply, background }
    })

    return CCompile.of({ compile })
  }))
}
