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

/**
 * Accumulates socket chunks and yields whole decoded frames. Chunks are kept as they came and
 * joined once per frame, so a frame of n bytes costs O(n) however finely it arrives.
 */
export class FrameReader {
  private chunks: Array<Buffer> = []
  private size = 0
  /** The length of the frame being read, once its header is in. */
  private need: number | undefined

  /** `max`: frames longer than this are refused before any of their body is kept. */
  private readonly max: number
  constructor(max: number = MAX_FRAME) {
    this.max = max
  }

  push(chunk: Buffer): Array<unknown> | BadFrame {
    this.chunks.push(chunk)
    this.size += chunk.length
    const out: Array<unknown> = []
    while (true) {
      if (this.need === undefined) {
        if (this.size < 4) break
        const len = this.take(4).readUInt32BE(0)
        if (len > this.max) return { badFrame: `frame of ${len} bytes is too large` }
        this.need = len
      }
      if (this.size < this.need) break
      const body = this.take(this.need)
      this.need = undefined
      try {
        out.push(JSON.parse(body.toString("utf8")))
      } catch (e) {
        return { badFrame: `bad frame: ${(e as Error).message}` }
      }
    }
    return out
  }

  /** The first `n` buffered bytes, removed from the buffer; `n` must not exceed `size`. */
  private take(n: number): Buffer {
    this.size -= n
    const first = this.chunks[0]!
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let at = 0
    while (at < n) {
      const c = this.chunks[0]!
      const used = Math.min(c.length, n - at)
      c.copy(out, at, 0, used)
      at += used
      if (used === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(used)
    }
    return out
  }
}

export const isBadFrame = (r: Array<unknown> | BadFrame): r is BadFrame => !Array.isArray(r)
