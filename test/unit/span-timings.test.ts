/** The daemon's span timings at trace level: one log line per span, naming its parent. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spanLine, SpanTimingsLayer } from "../../src/log/SpanTimings.ts"

describe("spanLine", () => {
  it("gives the name, the parent and milliseconds to the microsecond", () => {
    assert.strictEqual(spanLine("A.b", undefined, 1_234_567n), "level=TRACE span=A.b ms=1.234\n")
    assert.strictEqual(spanLine("A.b", "A", 999n), "level=TRACE span=A.b parent=A ms=0.000\n")
  })
})

describe("SpanTimingsLayer", () => {
  it.live("logs every span of an Effect.fn as it ends, inner ones first", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const write = process.stderr.write
      process.stderr.write = ((chunk: string) => lines.push(chunk) > 0) as typeof process.stderr.write
      const inner = Effect.fn("Test.inner")(function*() {
        yield* Effect.sleep(5)
      })
      const outer = Effect.fn("Test.outer")(function*() {
        yield* inner()
      })
      yield* outer().pipe(Effect.provide(SpanTimingsLayer), Effect.ensuring(Effect.sync(() => void (process.stderr.write = write))))
      const spans = lines.map((l) => /^level=TRACE span=(\S+)(?: parent=(\S+))? ms=([\d.]+)\n$/.exec(l))
      assert.deepStrictEqual(spans.map((m) => [m?.[1], m?.[2]]), [["Test.inner", "Test.outer"], ["Test.outer", undefined]])
      assert.isAtLeast(Number(spans[0]![3]), 4)
    }))
})
