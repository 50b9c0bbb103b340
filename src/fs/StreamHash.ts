import { createHash } from "node:crypto"
import * as fs from "node:fs"

/**
 * Far past any real source or header: a bigger file is not digested (that compile is not cached
 * in direct mode), so no file named by a manifest holds the daemon for more than a moment.
 */
export const MAX_DIGEST_BYTES = 256 * 1024 * 1024

/** Non-blocking: opening a FIFO never holds the thread (it is then refused as not a regular file). */
const OPEN = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK
const CHUNK = 1 << 20
/** Each window repeats the previous one's last bytes, so a marker split by a chunk boundary is still seen whole. */
const OVERLAP = 64

/**
 * The sha256 of a regular file, streamed in chunks (memory stays one chunk whatever the size),
 * handing `scan` each window; undefined when the path is not a regular file, cannot be read, or
 * passes `max` bytes (a file that grows, or a /proc file whose stat says 0).
 */
export const hashRegularFileSync = (file: string, max: number, scan: (window: Buffer) => void): string | undefined => {
  let fd: number
  try {
    fd = fs.openSync(file, OPEN)
  } catch {
    return undefined
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined
    const hash = createHash("sha256")
    const buf = Buffer.allocUnsafe(OVERLAP + CHUNK)
    let carry = 0
    let total = 0
    for (let n; (n = fs.readSync(fd, buf, carry, CHUNK, null)) > 0;) {
      total += n
      if (total > max) return undefined
      hash.update(buf.subarray(carry, carry + n))
      scan(buf.subarray(0, carry + n))
      const keep = Math.min(OVERLAP, carry + n)
      buf.copyWithin(0, carry + n - keep, carry + n)
      carry = keep
    }
    return hash.digest("hex")
  } catch {
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}
