/**
 * The entry codec reads what others wrote (a shared Redis, bucket or directory): these are the
 * blobs an attacker with write access could plant, each of which must decode to a counted miss.
 */
import { it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import * as zlib from "node:zlib"
import { describe, expect } from "vitest"
import { type CacheEntry, decodeEntry, encodeEntry, EntryCorrupt, EntryOutdated, fromTable, placeFiles, verifiedDigest } from "../../src/cache/CacheEntry.ts"

const Byte = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const Bytes = Schema.Array(Byte)
const Role = Schema.Literals(["obj", "dwo", "gcno", "su", "lib*.rlib", "*.d", "lib*.rmeta"])
const Entry = Schema.Struct({
  files: Schema.Array(Schema.Struct({ role: Role, data: Bytes })),
  stdout: Bytes,
  stderr: Bytes,
  exitCode: Byte
})
const toEntry = (e: typeof Entry.Type): CacheEntry => ({
  files: e.files.map((f) => ({ role: f.role, mode: 0o644, data: Uint8Array.from(f.data) })),
  stdout: Uint8Array.from(e.stdout),
  stderr: Uint8Array.from(e.stderr),
  exitCode: e.exitCode
})
const Key = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))
const KEY = "a".repeat(64)

const encode = async (key: string, entry: CacheEntry): Promise<Buffer> => {
  const blob = await encodeEntry(key, entry)
  if (blob instanceof Error) throw blob
  return Buffer.from(blob)
}

/**
 * A blob as an attacker writes it: any header and body, with a valid checksum and declared size
 * (these only catch accidents; whoever can write the cache can compute them).
 */
const forge = (header: unknown, payload: Uint8Array = new Uint8Array(), declared?: bigint): Buffer => {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header))
  const len = Buffer.alloc(4)
  len.writeUInt32BE(json.length)
  const body = Buffer.concat([len, json, payload])
  const size = Buffer.alloc(8)
  size.writeBigUInt64BE(declared ?? BigInt(body.length))
  return Buffer.concat([Buffer.from("SCTS"), Buffer.from([2]), size, createHash("sha256").update(body).digest(), zlib.zstdCompressSync(body)])
}
const good = { key: KEY, exitCode: 0, stdout: 0, stderr: 0, files: [{ role: "obj", mode: 0o644, size: 3 }], meta: {} }

describe("cache entries", () => {
  it.effect.prop("round-trip exactly under their key", [Entry, Key], ([e, key]) =>
    Effect.promise(async () => {
      const entry = toEntry(e)
      const back = await decodeEntry(key, await encode(key, entry))
      if (back instanceof Error) throw back
      expect(back.exitCode).toBe(entry.exitCode)
      expect(Buffer.from(back.stdout)).toEqual(Buffer.from(entry.stdout))
      expect(Buffer.from(back.stderr)).toEqual(Buffer.from(entry.stderr))
      expect(back.files.map((f) => [f.role, Buffer.from(f.data)])).toEqual(entry.files.map((f) => [f.role, Buffer.from(f.data)]))
    }), { arbitrary: { runs: 100, seed: 1 } })

  it.effect.prop("any flipped byte or truncation is detected, never decoded", [Entry, Schema.Int, Schema.Int], ([e, at, cut]) =>
    Effect.promise(async () => {
      const blob = await encode(KEY, toEntry(e))
      const flipped = Buffer.from(blob)
      const i = Math.abs(at) % blob.length
      flipped[i] = flipped[i]! ^ 0x5a
      expect(await decodeEntry(KEY, flipped)).toBeInstanceOf(EntryCorrupt)
      expect(await decodeEntry(KEY, blob.subarray(0, Math.abs(cut) % blob.length))).toBeInstanceOf(EntryCorrupt)
    }), { arbitrary: { runs: 200, seed: 2 } })

  it.effect.prop("an entry copied over another key's file is not that key's", [Entry, Key, Key], ([e, a, b]) =>
    Effect.promise(async () => {
      const blob = await encode(a, toEntry(e))
      const back = await decodeEntry(b, blob)
      if (a === b) expect(back).not.toBeInstanceOf(Error)
      else expect(back).toMatchObject({ _tag: "EntryCorrupt", message: "entry belongs to another key" })
    }), { arbitrary: { runs: 50, seed: 3 } })

  it("a forged entry with a well-formed header decodes (the forgeries below differ only in what they break)", async () => {
    const back = await decodeEntry(KEY, forge(good, Buffer.from("obj")))
    expect(back).not.toBeInstanceOf(Error)
  })

  it.each([
    ["a negative size", { ...good, stdout: -3 }, Buffer.from("objobj")],
    ["a size past the limit", { ...good, stderr: 2 ** 40 }, Buffer.from("obj")],
    ["a fractional size", { ...good, stdout: 0.5 }, Buffer.from("obj")],
    ["a non-integer exit code", { ...good, exitCode: 1.5 }, Buffer.from("obj")],
    ["an exit code as a string", { ...good, exitCode: "0" }, Buffer.from("obj")],
    ["an exit code out of range", { ...good, exitCode: -1 }, Buffer.from("obj")],
    ["no files list", { ...good, files: undefined }, Buffer.from("obj")],
    ["a role that is a path", { ...good, files: [{ role: "../../etc/passwd", mode: 0o644, size: 3 }] }, Buffer.from("obj")],
    ["a role with a separator", { ...good, files: [{ role: "a/b", mode: 0o644, size: 3 }] }, Buffer.from("obj")],
    ["a hidden role", { ...good, files: [{ role: ".obj", mode: 0o644, size: 3 }] }, Buffer.from("obj")],
    ["a mode out of range", { ...good, files: [{ role: "obj", mode: 0o100000, size: 3 }] }, Buffer.from("obj")],
    ["meta that is not strings", { ...good, meta: { a: 1 } }, Buffer.from("obj")],
    ["sizes that overrun the body", { ...good, files: [{ role: "obj", mode: 0o644, size: 4 }] }, Buffer.from("obj")],
    ["trailing bytes", good, Buffer.from("obj!")],
    ["a header that is not JSON", "{exitCode:0", Buffer.from("obj")],
    ["a header that is not an object", "[]", new Uint8Array()],
    ["no key", { ...good, key: undefined }, Buffer.from("obj")]
  ] as const)("refuses %s", async (_what, header, payload) => {
    expect(await decodeEntry(KEY, forge(header, payload))).toBeInstanceOf(EntryCorrupt)
  })

  it("an entry in the previous format is outdated (a plain miss after an upgrade), not corrupt", async () => {
    const body = Buffer.from("anything")
    const v1 = Buffer.concat([Buffer.from("SCTS"), Buffer.from([1]), createHash("sha256").update(body).digest(), zlib.zstdCompressSync(body)])
    expect(await decodeEntry(KEY, v1)).toBeInstanceOf(EntryOutdated)
    const future = Buffer.from(v1)
    future[4] = 3
    expect(await decodeEntry(KEY, future)).toBeInstanceOf(EntryCorrupt)
  })

  it("refuses a header length past the body", async () => {
    const blob = forge(good, Buffer.from("obj"))
    // Rewrite the header length inside the body: forge again with a body of our own.
    const body = Buffer.alloc(8)
    body.writeUInt32BE(0xffffffff)
    const size = Buffer.alloc(8)
    size.writeBigUInt64BE(BigInt(body.length))
    const bad = Buffer.concat([blob.subarray(0, 5), size, createHash("sha256").update(body).digest(), zlib.zstdCompressSync(body)])
    expect(await decodeEntry(KEY, bad)).toMatchObject({ message: "header longer than the entry" })
  })

  it("refuses a declared size past the limit before inflating anything", async () => {
    const blob = forge(good, Buffer.from("obj"), 2n ** 62n)
    expect(await decodeEntry(KEY, blob)).toMatchObject({ message: expect.stringMatching(/^declared size \d+ is out of bounds/) })
    expect(await decodeEntry(KEY, blob, 1024)).toBeInstanceOf(EntryCorrupt)
    // A manifest's smaller bound applies the same way.
    const fits = forge(good, Buffer.from("obj"))
    const declared = Number(fits.readBigUInt64BE(5))
    expect(await decodeEntry(KEY, fits, declared)).not.toBeInstanceOf(Error)
    expect(await decodeEntry(KEY, fits, declared - 1)).toMatchObject({ message: expect.stringMatching(/out of bounds/) })
  })

  it("stops a decompression bomb at the declared size: 1 GiB of zeros in a small blob", async () => {
    // Compressed as a stream, so the test never holds the gigabyte either.
    const packer = zlib.createZstdCompress()
    const chunks: Array<Buffer> = []
    packer.on("data", (c: Buffer) => chunks.push(c))
    const zeros = Buffer.alloc(1 << 20)
    for (let i = 0; i < 1024; i++) if (!packer.write(zeros)) await new Promise((r) => packer.once("drain", r))
    await new Promise((r) => packer.end(r))
    const packed = Buffer.concat(chunks)
    expect(packed.length).toBeLessThan(1 << 20)
    const size = Buffer.alloc(8)
    size.writeBigUInt64BE(1024n)
    const bomb = Buffer.concat([Buffer.from("SCTS"), Buffer.from([2]), size, Buffer.alloc(32), packed])
    const before = process.memoryUsage().arrayBuffers
    const back = await decodeEntry(KEY, bomb)
    expect(back).toMatchObject({ _tag: "EntryCorrupt", message: expect.stringMatching(/^cannot decompress/) })
    // Nothing near the inflated size was ever held.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20)
  })

  it("decodes on the threadpool: the event loop keeps turning while a large entry inflates and hashes", async () => {
    const data = Buffer.alloc(64 << 20)
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff
    const blob = await encode(KEY, { files: [{ role: "obj", mode: 0o644, data }], stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0 })
    let turns = 0
    let spinning = true
    const spin = () => {
      turns++
      if (spinning) setImmediate(spin)
    }
    setImmediate(spin)
    const back = await decodeEntry(KEY, blob)
    spinning = false
    expect(back).not.toBeInstanceOf(Error)
    expect(turns).toBeGreaterThan(1)
  })
})

describe("digests an entry claims for its files", () => {
  it.effect.prop("are taken only when they are the data's own", [Bytes, Bytes], ([a, b]) =>
    Effect.promise(async () => {
      const data = Uint8Array.from(a)
      const own = createHash("sha256").update(data).digest("hex")
      const other = createHash("sha256").update(Uint8Array.from(b)).digest("hex")
      expect(await verifiedDigest(data, own)).toBe(own)
      expect(await verifiedDigest(data, other)).toBe(own === other ? own : undefined)
      expect(await verifiedDigest(data, undefined)).toBeUndefined()
    }), { arbitrary: { runs: 50, seed: 6 } })
})

describe("roles map to this invocation's outputs only", () => {
  const HOSTILE = ["obj", "dwo", "gcno", "su", "__proto__", "constructor", "toString", "hasOwnProperty", "../obj", "/etc/passwd", "obj/..", ""]
  const Files = Schema.Array(Schema.Literals(HOSTILE))
  const Side = Schema.Array(Schema.Literals(["dwo", "gcno", "su"]))

  it.prop("every placed file is one of the table's paths, each at most once, all required ones present", [Files, Side], ([roles, side]) => {
    const table: Record<string, string> = { obj: "out/a.o" }
    for (const r of side) table[r] = `out/a.${r}`
    const entry: CacheEntry = {
      files: roles.map((role) => ({ role, mode: 0o644, data: Buffer.from(role) })),
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
      exitCode: 0
    }
    const placed = placeFiles(entry, fromTable(table), Object.keys(table))
    const expected = new Set(Object.keys(table))
    const exact = roles.length === expected.size && new Set(roles).size === roles.length && roles.every((r) => expected.has(r))
    if (!exact) {
      expect(placed).toBeUndefined()
      return
    }
    expect(placed).toBeDefined()
    expect(placed!.map((p) => p.file).sort()).toEqual(Object.values(table).sort())
  }, { arbitrary: { runs: 300, seed: 5 } })

  it("a role named after an Object property never resolves to it", () => {
    const place = fromTable({ obj: "a.o" })
    expect(["__proto__", "constructor", "toString", "valueOf"].map(place)).toEqual([undefined, undefined, undefined, undefined])
  })
})
