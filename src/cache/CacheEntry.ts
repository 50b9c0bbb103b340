import { Data, Exit, Schema } from "effect"
import { createHash, webcrypto } from "node:crypto"
import { promisify } from "node:util"
import { DEFAULT_ZSTD_LEVEL } from "../config/Config.ts"
import * as zlib from "node:zlib"
import { MAX_ENTRY_BYTES } from "../storage/Storage.ts"

/** A blob that is not an entry of this key; the caller counts it as a miss plus a read error. */
export class EntryCorrupt extends Data.TaggedError("EntryCorrupt")<{ readonly message: string; readonly cause?: unknown }> {}

/** An entry an older sccache-ts wrote under the same key: a plain miss, which the next store replaces. */
export class EntryOutdated extends Data.TaggedError("EntryOutdated")<{ readonly format: number }> {}

/** An entry larger than any reader would accept: it is not stored. */
export class EntryTooLarge extends Data.TaggedError("EntryTooLarge")<{ readonly size: number }> {}

/**
 * One cached compile. Files are named by role (`obj`, `dwo`, `gcno`, …), never by path: a hit
 * writes each role to the path the current invocation asks for (`placeFiles`), so no entry can
 * aim outside it.
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
/** 2: the key inside the checksummed body, and the body's size in the clear. */
const FORMAT = 2
/** magic, format, body size (u64), sha256(body). */
const PREFIX = 4 + 1 + 8 + 32
/** No compile has more outputs than this; a header claiming more is not ours. */
const MAX_FILES = 256

/** A role is a name, never a path: no separator, no leading dot. */
const Role = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_*+-][A-Za-z0-9_.*+-]{0,127}$/))
const Size = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MAX_ENTRY_BYTES }))
const Header = Schema.Struct({
  key: Schema.String,
  exitCode: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })),
  stdout: Size,
  stderr: Size,
  files: Schema.Array(Schema.Struct({
    role: Role,
    mode: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o7777 })),
    size: Size
  })).check(Schema.isMaxLength(MAX_FILES)),
  meta: Schema.Record(Schema.String, Schema.String)
})
const decodeHeader = Schema.decodeUnknownExit(Schema.fromJsonString(Header))

const zstdCompressAsync = promisify(zlib.zstdCompress)
const zstdDecompressAsync = promisify(zlib.zstdDecompress) as (buf: Uint8Array, opts: zlib.ZstdOptions) => Promise<Buffer>

/**
 * Up to this size, decompression and hashing run on the event loop: a thread-pool round trip costs
 * several times the work itself for a small object (a 3 KB entry: 0.7 ms compressed off the loop,
 * 0.12 ms on it). Bigger ones go to libuv's threadpool and never hold the loop up.
 */
const ON_LOOP_BYTES = 256 * 1024

/** Node's one-shot zstd compresses worse than its stream past about 16 KiB (measured): compressed on the loop only below. */
const COMPRESS_ON_LOOP_BYTES = 16 * 1024

const zstdCompress = (data: Uint8Array, opts: zlib.ZstdOptions): Promise<Buffer> =>
  data.length <= COMPRESS_ON_LOOP_BYTES ? Promise.resolve().then(() => zlib.zstdCompressSync(data, opts)) : zstdCompressAsync(data, opts)

/** `size`: the declared inflated size (the output is bounded by it either way). */
const zstdDecompress = (data: Uint8Array, opts: zlib.ZstdOptions, size: number): Promise<Buffer> =>
  size <= ON_LOOP_BYTES ? Promise.resolve().then(() => zlib.zstdDecompressSync(data, opts)) : zstdDecompressAsync(data, opts)

const sha256 = async (data: Uint8Array): Promise<Buffer> =>
  data.length <= ON_LOOP_BYTES ? createHash("sha256").update(data).digest() : Buffer.from(await webcrypto.subtle.digest("SHA-256", data))

/**
 * `claimed` (a digest an entry's meta states for one of its files) if it is that data's
 * sha256 in hex, else undefined: dependents key on it, so a shared cache's word is not enough.
 */
export const verifiedDigest = async (data: Uint8Array, claimed: string | undefined): Promise<string | undefined> =>
  claimed !== undefined && claimed === (await sha256(data)).toString("hex") ? claimed : undefined

/**
 * Layout: "SCTS" | format u8 | body size u64 | sha256(body) | zstd(body), where body is a u32
 * header length, the JSON header (which names the key), then stdout, stderr and each file's
 * bytes in header order. Compression and hashing of big entries run off the event loop.
 */
/** `level`: zstd's (`SCCACHE_CACHE_ZSTD_LEVEL`). */
export const encodeEntry = async (key: string, entry: CacheEntry, level = DEFAULT_ZSTD_LEVEL): Promise<Uint8Array | EntryTooLarge> => {
  const header = Buffer.from(JSON.stringify({
    key,
    exitCode: entry.exitCode,
    stdout: entry.stdout.length,
    stderr: entry.stderr.length,
    files: entry.files.map((f) => ({ role: f.role, mode: f.mode, size: f.data.length })),
    meta: entry.meta ?? {}
  }))
  const len = Buffer.allocUnsafe(4)
  len.writeUInt32BE(header.length, 0)
  const parts = [len, header, entry.stdout, entry.stderr, ...entry.files.map((f) => f.data)]
  const size = parts.reduce((n, p) => n + p.length, 0)
  if (size > MAX_ENTRY_BYTES) return new EntryTooLarge({ size })
  const body = Buffer.concat(parts)
  const [digest, packed] = await Promise.all([
    sha256(body),
    zstdCompress(body, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } })
  ])
  const prefix = Buffer.allocUnsafe(PREFIX)
  MAGIC.copy(prefix, 0)
  prefix[4] = FORMAT
  prefix.writeBigUInt64BE(BigInt(body.length), 5)
  digest.copy(prefix, 13)
  const blob = Buffer.concat([prefix, packed])
  return blob.length > MAX_ENTRY_BYTES ? new EntryTooLarge({ size: blob.length }) : blob
}

const corrupt = (message: string, cause?: unknown) => new EntryCorrupt({ message, cause })

/**
 * The entry stored under `key`, or why `blob` is not one. Nothing here trusts the blob: the
 * inflated size is bounded by the declared one (itself at most `max`) before anything is
 * allocated, the checksum covers the key, and every header field is checked.
 */
export const decodeEntry = async (key: string, blob: Uint8Array, max: number = MAX_ENTRY_BYTES): Promise<CacheEntry | EntryCorrupt | EntryOutdated> => {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  if (buf.length < PREFIX || !buf.subarray(0, 4).equals(MAGIC)) return corrupt("not a cache entry")
  if (buf[4]! < FORMAT) return new EntryOutdated({ format: buf[4]! })
  if (buf[4] !== FORMAT) return corrupt(`unknown entry format ${buf[4]}`)
  const declared = buf.readBigUInt64BE(5)
  if (declared < 4n || declared > BigInt(max)) return corrupt(`declared size ${declared} is out of bounds (at most ${max})`)
  const size = Number(declared)
  let body: Buffer
  try {
    // A decompression bomb stops at the declared size: zlib refuses to grow its output past it.
    body = await zstdDecompress(buf.subarray(PREFIX), { maxOutputLength: size }, size)
  } catch (e) {
    return corrupt(`cannot decompress: ${(e as Error).message}`, e)
  }
  if (body.length !== size) return corrupt(`inflates to ${body.length} bytes, not the declared ${size}`)
  if (!(await sha256(body)).equals(buf.subarray(13, PREFIX))) return corrupt("checksum mismatch")
  return parseBody(key, body)
}

/** Pure: the checked body of an entry, split by its header. */
const parseBody = (key: string, body: Buffer): CacheEntry | EntryCorrupt => {
  const hlen = body.readUInt32BE(0)
  if (hlen > body.length - 4) return corrupt("header longer than the entry")
  const parsed = decodeHeader(body.subarray(4, 4 + hlen).toString("utf8"))
  if (Exit.isFailure(parsed)) return corrupt("malformed header", parsed.cause)
  const header = parsed.value
  // The checksum covers the key: an entry copied over another key's file is not that key's.
  if (header.key !== key) return corrupt("entry belongs to another key")
  const sizes = [header.stdout, header.stderr, ...header.files.map((f) => f.size)]
  if (4 + hlen + sizes.reduce((n, s) => n + s, 0) !== body.length) return corrupt("sizes do not add up to the entry")
  let at = 4 + hlen
  const take = (n: number): Uint8Array => body.subarray(at, (at += n))
  const stdout = take(header.stdout)
  const stderr = take(header.stderr)
  const files = header.files.map((f) => ({ role: f.role, mode: f.mode, data: take(f.size) }))
  return { exitCode: header.exitCode, stdout, stderr, files, meta: header.meta }
}

/**
 * Pure: where each file of an entry goes, or undefined when the entry is not one of this
 * compile's: `place` names the path of each role the current invocation makes (undefined for any
 * other), a role may appear once, and every `required` role must be there. No other path is ever
 * returned, whatever the entry names.
 */
export const placeFiles = (
  entry: CacheEntry,
  place: (role: string) => string | undefined,
  required: ReadonlyArray<string>
): Array<{ readonly file: string; readonly data: Uint8Array }> | undefined => {
  const seen = new Set<string>()
  const out: Array<{ readonly file: string; readonly data: Uint8Array }> = []
  for (const f of entry.files) {
    const file = seen.has(f.role) ? undefined : place(f.role)
    if (file === undefined) return undefined
    seen.add(f.role)
    out.push({ file, data: f.data })
  }
  return required.every((r) => seen.has(r)) ? out : undefined
}

/** Pure: `place` for a fixed table of roles, proof against names like `__proto__` or `constructor`. */
export const fromTable = (table: Readonly<Record<string, string>>) => (role: string): string | undefined =>
  Object.hasOwn(table, role) ? table[role] : undefined
