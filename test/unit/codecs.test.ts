import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { decodeEntry, encodeEntry } from "../../src/cache/CacheEntry.ts"
import { splitResponseFile, expandResponseFiles } from "../../src/compiler/ResponseFiles.ts"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"

const Byte = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const Bytes = Schema.Array(Byte)
const Entry = Schema.Struct({
  files: Schema.Array(Schema.Struct({ role: Schema.String, data: Bytes })),
  stdout: Bytes,
  stderr: Bytes,
  exitCode: Byte
})
const toEntry = (e: typeof Entry.Type) => ({
  files: e.files.map((f) => ({ role: f.role, mode: 0o644, data: Uint8Array.from(f.data) })),
  stdout: Uint8Array.from(e.stdout),
  stderr: Uint8Array.from(e.stderr),
  exitCode: e.exitCode
})

describe("cache entries", () => {
  it.prop("round-trip exactly", [Entry], ([e]) => {
    const entry = toEntry(e)
    const back = decodeEntry(encodeEntry(entry))
    if (back instanceof Error) throw back
    expect(back.exitCode).toBe(entry.exitCode)
    expect(Buffer.from(back.stdout)).toEqual(Buffer.from(entry.stdout))
    expect(Buffer.from(back.stderr)).toEqual(Buffer.from(entry.stderr))
    expect(back.files.map((f) => [f.role, Buffer.from(f.data)])).toEqual(entry.files.map((f) => [f.role, Buffer.from(f.data)]))
  }, { arbitrary: { runs: 100, seed: 1 } })

  it.prop("any flipped byte or truncation is detected, never decoded", [Entry, Schema.Int, Schema.Int], ([e, at, cut]) => {
    const blob = Buffer.from(encodeEntry(toEntry(e)))
    const flipped = Buffer.from(blob)
    const i = Math.abs(at) % blob.length
    flipped[i] = flipped[i]! ^ 0x5a
    expect(decodeEntry(flipped)).toBeInstanceOf(Error)
    expect(decodeEntry(blob.subarray(0, Math.abs(cut) % blob.length))).toBeInstanceOf(Error)
  }, { arbitrary: { runs: 200, seed: 2 } })
})

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
