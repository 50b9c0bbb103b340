/**
 * Frames are a 4-byte big-endian length, then that many bytes of UTF-8 JSON. No Effect here:
 * the client's hot path loads this and nothing heavier.
 */
export const MAX_FRAME = 1 << 30

export const encodeFrame = (message: unknown): Buffer => {
  const body = Buffer.from(JSON.stringify(message), "utf8")
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

/** A stream that is not frames: the caller drops the connection. */
export interface BadFrame {
  readonly badFrame: string
}

/** Accumulates socket chunks and yields whole decoded frames. */
export class FrameReader {
  private chunks: Array<Buffer> = []
  private size = 0

  push(chunk: Buffer): Array<unknown> | BadFrame {
    this.chunks.push(chunk)
    this.size += chunk.length
    const out: Array<unknown> = []
    while (this.size >= 4) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
      const len = buf.readUInt32BE(0)
      if (len > MAX_FRAME) return { badFrame: `frame of ${len} bytes is too large` }
      if (buf.length < 4 + len) {
        this.chunks = [buf]
        break
      }
      try {
        out.push(JSON.parse(buf.subarray(4, 4 + len).toString("utf8")))
      } catch (e) {
        return { badFrame: `bad frame: ${(e as Error).message}` }
      }
      const rest = buf.subarray(4 + len)
      this.chunks = rest.length > 0 ? [rest] : []
      this.size = rest.length
    }
    return out
  }
}

export const isBadFrame = (r: Array<unknown> | BadFrame): r is BadFrame => !Array.isArray(r)
