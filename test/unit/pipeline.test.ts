/** The pipeline's pure and small parts: outcome counting (one place), single flight, bounded memos. */
import { assert, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { describe, expect } from "vitest"
import { type Outcome, runLocally } from "../../src/cache/Outcome.ts"
import { kindByName } from "../../src/daemon/CompileService.ts"
import { makeFlights, makeMemo, singleFlight } from "../../src/pipeline/Keyed.ts"
import { countOutcome, emptyStats } from "../../src/stats/Stats.ts"

const gcc = { lang: "C/C++", adv: "c [gcc]" }
const reply = runLocally("x")

describe("countOutcome", () => {
  it("counts a hit per language and per compiler kind, with its mode and timings", () => {
    const s = emptyStats()
    countOutcome(s, { _tag: "Hit", kind: gcc, mode: "direct", ms: 5, writeMs: 1, reply })
    expect(s.compile_requests).toBe(1)
    expect(s.cache_hits).toEqual({ "C/C++": 1 })
    expect(s.adv_cache_hits).toEqual({ "c [gcc]": 1 })
    expect(s.direct_hits).toEqual({ "C/C++": 1 })
    expect(s.cache_read_hit_duration).toEqual({ count: 1, totalMs: 5 })
  })

  it("a compile that was not stored is a non-cacheable compilation with its reason, not a non-cacheable call", () => {
    const s = emptyStats()
    countOutcome(s, { _tag: "Miss", kind: gcc, recache: false, run: { ms: 3, exitCode: 0 }, notStored: "output file missing", reply })
    expect(s.non_cacheable_compilations).toBe(1)
    expect(s.non_cacheable_calls).toBe(0)
    expect(s.not_cached).toEqual({ "output file missing": 1 })
    expect(s.compilations).toBe(1)
  })

  it("a compiler that could not start is a miss without a compilation", () => {
    const s = emptyStats()
    countOutcome(s, { _tag: "Miss", kind: gcc, recache: true, run: undefined, notStored: undefined, reply })
    expect(s.cache_misses).toEqual({ "C/C++": 1 })
    expect(s.compilations).toBe(0)
    expect(s.forced_recaches).toBe(1)
  })

  it("each kind of outcome moves exactly its own counters", () => {
    const outcomes: Array<[Outcome, (s: ReturnType<typeof emptyStats>) => number]> = [
      [{ _tag: "Unsupported", reply }, (s) => s.unsupported_compiler_calls],
      [{ _tag: "NotCompilation", reply }, (s) => s.non_compilation_calls],
      [{ _tag: "NotCacheable", reason: "/Zi", reply }, (s) => s.non_cacheable_calls],
      [{ _tag: "CacheError", kind: gcc, reply }, (s) => s.cache_errors["C/C++"] ?? 0]
    ]
    for (const [o, counter] of outcomes) {
      const s = emptyStats()
      countOutcome(s, o)
      expect(counter(s)).toBe(1)
      expect(s.compilations + (s.cache_hits["C/C++"] ?? 0) + (s.cache_misses["C/C++"] ?? 0)).toBe(0)
    }
  })

  it("the degraded daemon counts a compile under its own language", () => {
    expect(kindByName("/usr/bin/rustc")).toEqual({ lang: "Rust", adv: "rust" })
    expect(kindByName("/usr/local/bin/nvcc")).toEqual({ lang: "CUDA", adv: "cuda [nvcc]" })
    expect(kindByName("/usr/bin/gcc").lang).toBe("C/C++")
  })
})

describe("single flight", () => {
  it.effect("identical work under way is joined: the waiter looks again instead of running it", () =>
    Effect.gen(function*() {
      const flights = makeFlights()
      const gate = yield* Deferred.make<void>()
      let runs = 0
      let stored: string | undefined
      const work = Effect.sync(() => void runs++).pipe(Effect.andThen(Deferred.await(gate)), Effect.andThen(Effect.sync(() => (stored = "obj"))))
      const again = Effect.sync(() => stored)
      const first = yield* Effect.forkChild(singleFlight(flights, "k", again, work))
      yield* Effect.yieldNow
      const second = yield* Effect.forkChild(singleFlight(flights, "k", again, work))
      yield* Effect.yieldNow
      assert.strictEqual(runs, 1)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual([yield* Fiber.join(first), yield* Fiber.join(second)], ["obj", "obj"])
      assert.strictEqual(runs, 1)
      assert.strictEqual(flights.busy("k"), false)
    }))

  it.effect("a waiter whose look finds nothing does the work itself", () =>
    Effect.gen(function*() {
      const flights = makeFlights()
      let runs = 0
      const work = Effect.sync(() => ++runs)
      const held = flights.claim(["k"], Effect.never)
      const leader = yield* Effect.forkChild(held)
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(singleFlight(flights, "k", Effect.succeed(undefined), work))
      yield* Effect.yieldNow
      assert.strictEqual(runs, 0)
      yield* Fiber.interrupt(leader)
      assert.strictEqual(yield* Fiber.join(waiter), 1)
    }))
})

describe("makeMemo", () => {
  it.effect("computes once per id, and keeps no result `keep` rejects", () =>
    Effect.gen(function*() {
      let calls = 0
      const memo = yield* makeMemo((n: number) => Effect.sync(() => (calls++, n > 0 ? n : undefined)), { capacity: 4, keep: (r) => r !== undefined })
      assert.strictEqual(yield* memo("a", 1), 1)
      assert.strictEqual(yield* memo("a", 2), 1)
      assert.strictEqual(calls, 1)
      assert.strictEqual(yield* memo("b", 0), undefined)
      assert.strictEqual(yield* memo("b", 3), 3)
      assert.strictEqual(calls, 3)
    }))
})
