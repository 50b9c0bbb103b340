import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { splitResponseFile, expandResponseFiles } from "../../src/compiler/ResponseFiles.ts"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"

const Byte = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))

describe("framing", () => {
  it.prop("frames survive any split into chunks", [Schema.Array(Schema.Struct({ type: Schema.String, n: Byte })), Schema.Int], ([messages, step]) => {
    const wire = Buffer.concat(messages.map(encodeFrame))
    const reader = new FrameReader()
    const size = 1 + (Math.abs(step) % 7)
    const got: Array<unknown> = []
    for (let i = 0; i < wire.length; i += size) {
      const frames = reader.push(wire.subarray(i, i + size))
      if (isBadFrame(frames)) throw new Error(frames.badFrame)
      got.push(...frames)
    }
    expect(got).toEqual(messages)
  }, { arbitrary: { runs: 200, seed: 4 } })

  it("rejects a frame that is not JSON", () => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(3)
    expect(new FrameReader().push(Buffer.concat([head, Buffer.from("{x}")]))).toHaveProperty("badFrame")
  })
})

describe("response files", () => {
  it("splits like gcc: whitespace, quotes, backslashes", () => {
    expect(splitResponseFile(`-c  "a b.c" 'x y' c\\ d\n-O2\t-D"Q=1"`)).toEqual(["-c", "a b.c", "x y", "c d", "-O2", "-DQ=1"])
    expect(splitResponseFile(`""`)).toEqual([""])
  })

  it("expands nested files and leaves unreadable ones as they are", () => {
    const files: Record<string, string> = { "a.rsp": "-c @b.rsp", "b.rsp": "x.c -o x.o" }
    expect(expandResponseFiles(["@a.rsp", "-O2", "@missing"], (f) => files[f])).toEqual(["-c", "x.c", "-o", "x.o", "-O2", "@missing"])
    expect(expandResponseFiles(["@loop"], () => "@loop")).toBeUndefined()
  })
})
