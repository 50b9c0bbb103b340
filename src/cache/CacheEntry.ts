import { Data } from "effect"
import { DEFAULT_ZSTD_LEVEL } from "../config/Config.ts"
import { createHash } from "node:crypto"
import * as zlib from "node:zlib"

export class EntryCorrupt extends Data.TaggedError("EntryCorrupt")<{ readonly message: string }> {}

/**
 * One cached compile. Files are named by role (`obj`, `dwo`, `gcno`, …), never by path: a hit
 * writes each role to the path the current invocation asks for, so no entry can aim outside it.
 */
export interface CacheEntry {
  readonly files: ReadonlyArray<{ readonly role: string; readonly mode: number; readonly data: Uint8Array }>
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  readonly exitCode: number
  /** Free-form facts a reader may need (e.g. the .d target it was written for). */
  readonly meta?: Readonly<Record<string, string>>
}

const MAGIC = Buffer.from("SCTS", "latin1")
const FORMAT = 1

/**
 * Layout: "SCTS" | format u8 | sha256(body) 32 bytes | zstd(body), where body is a u32 header
 * length, the JSON header, then stdout, stderr and each file's bytes in header order.
 */
/** `level`: zstd's (`SCCACHE_CACHE_ZSTD_LEVEL`). */
export const encodeEntry = (entry: CacheEntry, level = DEFAULT_ZSTD_LEVEL): Uint8Array => {
  const header = Buffer.from(JSON.stringify({
    exitCode: entry.exitCode,
    stdout: entry.stdout.length,
    stderr: entry.stderr.length,
    files: entry.files.map((f) => ({ role: f.role, mode: f.mode, size: f.data.length })),
    meta: entry.meta ?? {}
  }))
  const len = Buffer.allocUnsafe(4)
  len.writeUInt32BE(header.length, 0)
  const body = Buffer.concat([len, header, entry.stdout, entry.stderr, ...entry.files.map((f) => f.data)])
  const digest = createHash("sha256").update(body).digest()
  const packed = zlib.zstdCompressSync(body, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } })
  return Buffer.concat([MAGIC, Buffer.from([FORMAT]), digest, packed])
}

export const decodeEntry = (blob: Uint8Array): CacheEntry | EntryCorrupt => {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  if (buf.length < 37 || !buf.subarray(0, 4).equals(MAGIC)) return new EntryCorrupt({ message: "not a cache entry" })
  if (buf[4] !== FORMAT) return new EntryCorrupt({ message: `unknown entry format ${buf[4]}` })
  let body: Buffer
  try {
    body = zlib.zstdDecompressSync(buf.subarray(37))
  } catch (e) {
    return new EntryCorrupt({ message: `cannot decompress: ${(e as Error).message}` })
  }
  if (!createHash("sha256").update(body).digest().equals(buf.subarray(5, 37))) {
    return new EntryCorrupt({ message: "checksum mismatch" })
  }
  try {
    const hlen = body.readUInt32BE(0)
    const header = JSON.parse(body.subarray(4, 4 + hlen).toString("utf8")) as {
      exitCode: number
      stdout: number
      stderr: number
      files: Array<{ role: string; mode: number; size: number }>
      meta: Record<string, string>
    }
    let at = 4 + hlen
    const take = (n: number): Uint8Array => {
      if (at + n > body.length) throw new Error("truncated body")
      const part = body.subarray(at, at + n)
      at += n
      return part
    }
    const stdout = take(header.stdout)
    const stderr = take(header.stderr)
    const files = header.files.map((f) => ({ role: f.role, mode: f.mode, data: take(f.size) }))
    if (at !== body.length) throw new Error("trailing bytes")
    return { exitCode: header.exitCode, stdout, stderr, files, meta: header.meta }
  } catch (e) {
    return new EntryCorrupt({ message: `bad header: ${(e as Error).message}` })
  }
}
