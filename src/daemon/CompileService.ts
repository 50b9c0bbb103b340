import { Context, Effect, Layer } from "effect"
import { CCompile } from "../cache/CCompile.ts"
import { type CompileOutcome, runLocally } from "../cache/Outcome.ts"
import { RustCompile } from "../cache/RustCompile.ts"
import { CompilerDetector } from "../compiler/CompilerDetector.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { bump, Stats } from "../stats/Stats.ts"

/** The path of one compile in the daemon: which compiler, then that language's cache path. */
export class CompileService extends Context.Service<CompileService, {
  readonly compile: (req: CompileRequest) => Effect.Effect<CompileOutcome>
}>()("sccache-ts/daemon/CompileService") {
  static readonly layer = Layer.effect(CompileService, Effect.gen(function*() {
    const detector = yield* CompilerDetector
    const c = yield* CCompile
    const rust = yield* RustCompile
    const stats = yield* Stats
    const jobs = yield* Jobserver
    return CompileService.of({
      compile: (request) => jobs.serve(request, Effect.fn("CompileService.compile")(function*(req) {
        yield* stats.update((s) => void s.compile_requests++)
        // sccache's SCCACHE_NO_CACHE, read from the compile's own environment: no lookup, no store.
        if (req.env["SCCACHE_NO_CACHE"] !== undefined) {
          yield* stats.update((s) => {
            s.non_cacheable_calls++
            bump(s.not_cached, "SCCACHE_NO_CACHE")
          })
          return runLocally("SCCACHE_NO_CACHE is set")
        }
        const info = yield* detector.detect(req.exe, { cwd: req.cwd, env: req.env }).pipe(Effect.result)
        if (info._tag === "Failure") {
          yield* stats.update((s) => void s.unsupported_compiler_calls++)
          yield* Effect.logDebug(info.failure.message)
          return runLocally(info.failure.message)
        }
        switch (info.success.family) {
          case "gcc":
          case "clang":
            return yield* c.compile(req, info.success)
          case "rustc":
            return yield* rust.compile(req, info.success)
          case "nvcc":
            // nvcc drives several compilers of its own (cudafe++, cicc, ptxas): passed through, counted.
            yield* stats.update((s) => void s.unsupported_compiler_calls++)
            return runLocally("nvcc is not cached")
        }
      }))
    })
  }))

  /**
   * When the cache can't be set up (bad configuration, storage that fails its check), the daemon
   * still answers: every compile runs locally and is counted as a cache error.
   */
  static readonly degraded = (why: string) =>
    Layer.effect(CompileService, Effect.gen(function*() {
      const stats = yield* Stats
      return CompileService.of({
        compile: () =>
          stats.update((s) => {
            s.compile_requests++
            bump(s.cache_errors, "C/C++")
          }).pipe(Effect.as(runLocally(why)))
      })
    }))
}
