import { describe, expect, it } from "vitest"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"

describe("frame reader", () => {
  // The old reader joined its whole buffer on every chunk: this frame took it hours (quadratic).
  // The test's only bound is the hang guard.
  it("reads a 64 MiB frame arriving in 4 KiB chunks in linear time", () => {
    const stderr = "w".repeat(64 << 20)
    const wire = Buffer.concat([encodeFrame({ type: "compiled", stderr }), encodeFrame({ type: "ok" })])
    const reader = new FrameReader()
    const got: Array<unknown> = []
    for (let i = 0; i < wire.length; i += 4096) {
      const frames = reader.push(wire.subarray(i, i + 4096))
      if (isBadFrame(frames)) throw new Error(frames.badFrame)
      got.push(...frames)
    }
    expect(got).toHaveLength(2)
    expect((got[0] as { stderr: string }).stderr.length).toBe(64 << 20)
    expect((got[0] as { stderr: string }).stderr === stderr).toBe(true)
    expect(got[1]).toEqual({ type: "ok" })
  }, 60_000)

  it("reads frames arriving one byte at a time, and frames that share a chunk", () => {
    const wire = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ b: "é" }), encodeFrame({ c: [] })])
    const byByte = new FrameReader()
    const got: Array<unknown> = []
    for (let i = 0; i < wire.length; i++) {
      const frames = byByte.push(wire.subarray(i, i + 1))
      if (isBadFrame(frames)) throw new Error(frames.badFrame)
      got.push(...frames)
    }
    expect(got).toEqual([{ a: 1 }, { b: "é" }, { c: [] }])
    expect(new FrameReader().push(wire)).toEqual(got)
  })

  it("refuses a frame longer than the reader's bound from its header alone", () => {
    const reader = new FrameReader(1024)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(1025, 0)
    expect(reader.push(head)).toEqual({ badFrame: "frame of 1025 bytes is too large" })
    expect(new FrameReader(1024).push(encodeFrame({ s: "x".repeat(1000) }))).toHaveLength(1)
  })
})
