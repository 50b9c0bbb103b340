import { Context, Effect, Layer } from "effect"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import type { CacheEntry } from "../cache/CacheEntry.ts"
import { EntryCache } from "../cache/EntryCache.ts"
import { dependResultKey } from "../cache/Manifest.ts"
import { compiled, type CompileOutcome, notCacheable, notCompilation, type Outcome, runLocally } from "../cache/Outcome.ts"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import { type CompilerOutput, CompilerRunner } from "../compiler/CompilerRunner.ts"
import { DaemonConfig } from "../config/Config.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { CLOCK_SLACK_MS, DirectMode, UNVOUCHED_REASON } from "./DirectMode.ts"
import type { Direct, Family, Job, Outputs, Replay, ResultKey, Skip } from "./Family.ts"
import { makeFlights, singleFlight } from "./Keyed.ts"

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

const skipped = (s: Skip): Outcome => (s._tag === "NotCompilation" ? notCompilation(s.reason) : notCacheable(s.reason))

/** A run of the real compiler: its output, or why it could not start. */
type Ran =
  | { readonly _tag: "Ran"; readonly out: CompilerOutput; readonly ms: number; readonly since: number }
  | { readonly _tag: "Unrunnable"; readonly reason: string }

/**
 * The one cache pipeline every compiler family goes through: direct-mode lookup, single flight,
 * restore, run, race guard and store after the reply. It returns what happened as an Outcome,
 * which the caller counts.
 */
export class Pipeline extends Context.Service<Pipeline, {
  readonly run: (family: Family, req: CompileRequest, compiler: CompilerInfo) => Effect.Effect<Outcome>
}>()("sccache-ts/pipeline/Pipeline") {
  static readonly layer = Layer.effect(Pipeline, Effect.gen(function*() {
    const runner = yield* CompilerRunner
    const cache = yield* EntryCache
    const jobs = yield* Jobserver
    const config = yield* DaemonConfig
    const direct = yield* DirectMode
    /** Compiles under way, by key, working directory and outputs: identical ones wait for them. */
    const flights = makeFlights()

    const run = Effect.fn("Pipeline.run")(function*(family: Family, request: CompileRequest, compiler: CompilerInfo) {
      const clock = performance.now()
      const started = Date.now()
      const job = yield* family.prepare(request, compiler)
      if (job._tag !== "Job") return skipped(job)
      const o = yield* through(job, clock, started)
      const present = job.present
      return present === undefined || o.reply.type !== "compiled" ? o : { ...o, reply: { ...o.reply, ...present(o.reply) } } as Outcome
    })

    /** A job through the cache; `clock` (performance.now()) and `started` (Date.now()) from the request's start. */
    const through = Effect.fn("Pipeline.through")(function*(job: Job, clock: number, started: number) {
      const { kind, req } = job
      const remember = job.remember ?? (() => Effect.void)
      let writeMs = 0
      // Restores timed, for the stats' output writes.
      const outputs: Outputs = {
        ...job.outputs,
        restore: (entry) => {
          const t0 = performance.now()
          return job.outputs.restore(entry).pipe(Effect.ensuring(Effect.sync(() => void (writeMs = performance.now() - t0))))
        }
      }
      const flightKey = (key: string) => `${key}\0${req.cwd}\0${outputs.id}`
      const hit = (entry: CacheEntry, replay: Replay, mode: "direct" | "preprocessor" | undefined, background?: Effect.Effect<void>): Outcome => ({
        _tag: "Hit",
        kind,
        mode,
        ms: performance.now() - clock,
        writeMs,
        reply: { ...compiled(entry.exitCode, replay.stdout, replay.stderr), ...(background !== undefined ? { background } : {}) }
      })
      const miss = (ran: Ran, reply: CompileOutcome, notStored?: string): Outcome => ({
        _tag: "Miss",
        kind,
        recache: config.recache,
        run: ran._tag === "Ran" ? { ms: ran.ms, exitCode: ran.out.exitCode } : undefined,
        notStored,
        reply
      })
      const execute = (args: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const since = Date.now()
          const t0 = performance.now()
          const out = yield* jobs.withToken(runner.run(req.exe, args, { cwd: req.cwd, env: req.env })).pipe(Effect.result)
          return out._tag === "Failure"
            ? { _tag: "Unrunnable", reason: out.failure.message } satisfies Ran
            : { _tag: "Ran", out: out.success, ms: performance.now() - t0, since } satisfies Ran
        })
      /** The compile's reply, or the outcome that ends it here: it failed, or its outputs are missing. */
      const finished = (ran: Ran, out: CompilerOutput | undefined) =>
        Effect.gen(function*() {
          if (ran._tag === "Unrunnable" || out === undefined) return { done: miss(ran, runLocally(ran._tag === "Unrunnable" ? ran.reason : "compile failed")) }
          const reply = compiled(out.exitCode, out.stdout, out.stderr, out.signal)
          if (out.exitCode !== 0) return { done: miss(ran, reply) }
          const entry = yield* outputs.collect(out, ran.since)
          if (entry === undefined) return { done: miss(ran, reply, "output file missing") }
          return { reply, entry }
        })

      const d: Direct | undefined = job.direct !== undefined && !direct.excluded(job.direct.manifestKey) ? job.direct : undefined

      // Direct mode: no preprocessor, when the manifest's files are all as they were. What it read is
      // remembered after the reply, from the digests the lookup verified.
      const directHit = (d: Direct) =>
        direct.lookup(req, d, outputs).pipe(Effect.map((h) =>
          h === undefined ? undefined : hit(h.entry, h.replay, "direct", remember(h.result, h.read, "hit", h.known))
        ))
      if (d !== undefined && !config.recache) {
        const found = yield* directHit(d)
        if (found !== undefined) return found
      }

      // Depend mode: compile straight away and learn what it read from the compile itself.
      if (d?.depend !== undefined) {
        const depend = d.depend
        const compile = Effect.gen(function*() {
          // Cancelled (the client went away): the compiler is gone by then, and so goes its listing.
          const ran = yield* execute(depend.args).pipe(Effect.onInterrupt(() => depend.finish(undefined)))
          const { out, read } = yield* depend.finish(ran._tag === "Ran" ? ran.out : undefined)
          const f = yield* finished(ran, out)
          if ("done" in f) return f.done
          if (read === undefined || read.length === 0) return miss(ran, f.reply, "dependency file missing")
          const digested = direct.digestAll(read, req.cwd, d.view, started)
          if (typeof digested === "string") {
            direct.exclude(d.manifestKey, digested)
            return miss(ran, f.reply, UNVOUCHED_REASON[digested])
          }
          const { includes } = digested
          const result = dependResultKey(d.manifestKey, includes)
          yield* remember(result, read, "miss", digested.known)
          const depText = yield* direct.readDep(req, d)
          const background = yield* cache.writeLater(
            [result, d.manifestKey],
            cache.store(result, f.entry).pipe(Effect.andThen(direct.learn(req, d, started, result, read, depText, includes)))
          )
          return miss(ran, { ...f.reply, background })
        })
        return yield* (config.recache ? compile : singleFlight(flights, flightKey(d.manifestKey), directHit(d), compile))
      }

      // The family's own key (the preprocessor's text, rustc's dep-info, …).
      const keyed = yield* job.key
      if ("_tag" in keyed) return skipped(keyed)
      const k: ResultKey = keyed
      const learn = (result: string, depText: string | undefined) =>
        d === undefined ? Effect.void : direct.learn(req, d, started, result, k.read, depText)

      const keyHit = (key: string) =>
        Effect.gen(function*() {
          const entry = yield* cache.lookup(key)
          if (entry === undefined) return undefined
          const replay = yield* outputs.restore(entry).pipe(Effect.orElseSucceed(() => undefined))
          // Could not put the outputs in place (say, a missing directory): let the compiler say why.
          if (replay === undefined) return { _tag: "CacheError", kind, reply: runLocally("could not write cached outputs") } satisfies Outcome
          yield* remember(key, k.read, "hit")
          if (d === undefined) return hit(entry, replay, k.mode)
          const depText = yield* direct.readDep(req, d)
          return hit(entry, replay, k.mode, yield* cache.writeLater([d.manifestKey], learn(key, depText)))
        })
      if (k.key !== undefined && !config.recache) {
        const found = yield* keyHit(k.key)
        if (found !== undefined) return found
      }

      const key = k.key
      const compile = Effect.gen(function*() {
        if (key !== undefined) yield* remember(key, k.read, "miss")
        const ran = yield* execute(job.args)
        // Nothing to store under: the reply is all there is.
        if (key === undefined) return miss(ran, ran._tag === "Ran" ? compiled(ran.out.exitCode, ran.out.stdout, ran.out.stderr, ran.out.signal) : runLocally(ran.reason))
        const f = yield* finished(ran, ran._tag === "Ran" ? ran.out : undefined)
        if ("done" in f) return f.done
        // Checked before replying: once make has the outputs it may change them.
        const unchanged = k.unchanged ?? modifiedSince(k.read, req.cwd, started).pipe(Effect.map((m) => !m))
        if (!(yield* unchanged)) return miss(ran, f.reply, "input modified during compile")
        const depText = yield* direct.readDep(req, d)
        const background = yield* cache.writeLater(
          d === undefined ? [key] : [key, d.manifestKey],
          cache.store(key, f.entry).pipe(Effect.andThen(learn(key, depText)))
        )
        return miss(ran, { ...f.reply, background })
      })
      return yield* (key === undefined || config.recache ? compile : singleFlight(flights, flightKey(key), keyHit(key), compile))
    })

    return Pipeline.of({ run })
  }))
}
