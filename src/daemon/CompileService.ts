import { Context, Effect, Layer } from "effect"
import { type CompileOutcome, type Outcome, runLocally, type StatsKind } from "../cache/Outcome.ts"
import { CompilerDetector, familyOf } from "../compiler/CompilerDetector.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import { FAMILIES } from "../pipeline/Families.ts"
import { Pipeline } from "../pipeline/Pipeline.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { Stats } from "../stats/Stats.ts"

/** Pure: the counters a compile lands in when nothing could look at it (no cache): by its name. */
export const kindByName = (exe: string): StatsKind => {
  const family = familyOf(exe, "")
  return family === "rustc" ? { lang: "Rust", adv: "rust" } : family === "nvcc" ? { lang: "CUDA", adv: "cuda [nvcc]" } : { lang: "C/C++", adv: "c [unknown]" }
}

/** The path of one compile in the daemon: which compiler and family, the pipeline, then the count. */
export class CompileService extends Context.Service<CompileService, {
  readonly compile: (req: CompileRequest) => Effect.Effect<CompileOutcome>
}>()("sccache-ts/daemon/CompileService") {
  static readonly layer = Layer.effect(CompileService, Effect.gen(function*() {
    const detector = yield* CompilerDetector
    const pipeline = yield* Pipeline
    const stats = yield* Stats
    const jobs = yield* Jobserver
    const families = yield* Effect.all(FAMILIES)

    const decide = Effect.fn("CompileService.decide")(function*(req: CompileRequest) {
      // sccache's SCCACHE_NO_CACHE, read from the compile's own environment: no lookup, no store.
      if (req.env["SCCACHE_NO_CACHE"] !== undefined) {
        return { _tag: "NotCacheable", reason: "SCCACHE_NO_CACHE", reply: runLocally("SCCACHE_NO_CACHE is set") } satisfies Outcome
      }
      const info = yield* detector.detect(req.exe, { cwd: req.cwd, env: req.env }).pipe(Effect.result)
      if (info._tag === "Failure") {
        yield* Effect.logDebug(info.failure.message)
        return { _tag: "Unsupported", reply: runLocally(info.failure.message) } satisfies Outcome
      }
      const family = families.find((f) => f.accepts(info.success, req))
      if (family === undefined) return { _tag: "Unsupported", reply: runLocally(`${info.success.family} is not cached`) } satisfies Outcome
      return yield* pipeline.run(family, req, info.success)
    })

    return CompileService.of({
      compile: (request) =>
        jobs.serve(request, (req) =>
          decide(req).pipe(
            Effect.tap((outcome) => stats.count(outcome)),
            Effect.map((outcome) => outcome.reply)
          ))
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
        compile: (req) => {
          const outcome: Outcome = { _tag: "CacheError", kind: kindByName(req.exe), reply: runLocally(why) }
          return stats.count(outcome).pipe(Effect.as(outcome.reply))
        }
      })
    }))
}
