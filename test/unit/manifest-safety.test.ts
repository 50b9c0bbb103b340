/**
 * Direct-mode manifests come from a shared cache: what they name is read, and their .d text is
 * written where make includes it. These are the pure checks (and the bounded hashing) that keep
 * a poisoned one to a miss.
 */
import { it } from "@effect/vitest"
import { Schema } from "effect"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect } from "vitest"
import { encodeEntry } from "../../src/cache/CacheEntry.ts"
import { candidateReachable, decodeManifest, depTargets, encodeManifest, includeRoots, type Manifest, MAX_CANDIDATES, reachable, verifiedDepText } from "../../src/cache/Manifest.ts"
import { parseGccArgs } from "../../src/compiler/GccArgs.ts"
import { parseDepFile } from "../../src/compiler/DepFile.ts"
import { hashRegularFileSync } from "../../src/fs/StreamHash.ts"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sccache-ts-manifest-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const KEY = "1".repeat(64)
const RESULT = "2".repeat(64)
const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

describe("manifest decoding", () => {
  const good: Manifest = { candidates: [{ result: RESULT, includes: [["a.h", "0".repeat(64)]], absent: [["inc", ["a.h"]]], dep: "a.o: a.c a.h\n" }] }
  const asEntry = async (json: unknown, key = KEY) => {
    const blob = await encodeEntry(key, { files: [{ role: "manifest", mode: 0o644, data: Buffer.from(JSON.stringify(json)) }], stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0 })
    if (blob instanceof Error) throw blob
    return blob
  }

  it("round-trips under its key, and is nothing under another", async () => {
    const blob = await encodeManifest(KEY, good)
    if (blob instanceof Error) throw blob
    expect(await decodeManifest(KEY, blob)).toEqual(good)
    expect(await decodeManifest("3".repeat(64), blob)).toMatchObject({ _tag: "EntryCorrupt", message: "entry belongs to another key" })
  })

  it.each([
    ["candidates that are not a list", { candidates: "x" }],
    ["a result that is a path", { candidates: [{ ...good.candidates[0], result: "../../etc/passwd" }] }],
    ["includes that are not pairs", { candidates: [{ ...good.candidates[0], includes: ["a.h"] }] }],
    ["an include digest that is not a string", { candidates: [{ ...good.candidates[0], includes: [["a.h", 1]] }] }],
    ["no absent list", { candidates: [{ result: RESULT, includes: [] }] }],
    ["absent names that are not strings", { candidates: [{ ...good.candidates[0], absent: [["inc", [null]]] }] }],
    ["a dep that is not text", { candidates: [{ ...good.candidates[0], dep: 7 }] }],
    ["more candidates than a manifest keeps", { candidates: Array.from({ length: MAX_CANDIDATES + 1 }, () => good.candidates[0]) }]
  ])("refuses %s", async (_what, json) => {
    expect(await decodeManifest(KEY, await asEntry(json))).toMatchObject({ _tag: "EntryCorrupt", message: "malformed manifest" })
  })
})

describe("what a candidate may make the daemon read", () => {
  const roots = ["/src/proj", "/src/proj/include", "/usr/include", "/usr/lib/gcc/x86_64-linux-gnu/13/include"]

  it.each([
    ["/src/proj/a.h", true],
    ["/usr/include/stdio.h", true],
    ["/src/proj/include/sub/x.h", true],
    ["/proc/self/pagemap", false],
    ["/etc/shadow", false],
    ["/src/projX/a.h", false],
    ["/src/proj/../other/a.h", false],
    ["/src/proj/./a.h", false],
    ["src/proj/a.h", false]
  ])("%s: %s", (file, ok) => {
    expect(reachable(file, roots)).toBe(ok)
  })

  it("the pseudo file systems stay out even when a root covers them", () => {
    expect(reachable("/proc/self/pagemap", ["/"])).toBe(false)
    expect(reachable("/dev/zero", ["/"])).toBe(false)
    expect(reachable("/sys/kernel/notes", ["/"])).toBe(false)
    expect(reachable("/home/u/a.h", ["/"])).toBe(true)
  })

  const Segment = Schema.Literals(["a", "b.h", "..", ".", "", "proc", "src", "proj", "include", "etc"])
  it.prop("a path is reachable only if, read as the kernel would, it lies under a root and outside /proc", [Schema.Array(Segment), Schema.Boolean], ([segs, absolute]) => {
    const file = (absolute ? "/" : "") + segs.join("/")
    if (!reachable(file, roots)) return
    const real = path.resolve("/", file)
    expect(real).toBe(file)
    expect(roots.some((r) => real === r || real.startsWith(r + "/"))).toBe(true)
    expect(real.startsWith("/proc")).toBe(false)
  }, { arbitrary: { runs: 500, seed: 7 } })

  it("a candidate is reachable only when every include and every absent directory is, with plain names", () => {
    const cwd = "/src/proj"
    const locate = (f: string) => path.resolve(cwd, f)
    const r = includeRoots(cwd, "main.c", ["include", "/usr/include"])
    const cand = (includes: Array<[string, string]>, absent: Array<[string, Array<string>]> = []) => ({ result: RESULT, includes, absent })
    expect(candidateReachable(cand([["main.c", "x"], ["include/a.h", "y"], ["/usr/include/stdio.h", "z"]], [["include", ["b.h"]]]), locate, r)).toBe(true)
    expect(candidateReachable(cand([["main.c", "x"], ["/proc/self/pagemap", "y"]]), locate, r)).toBe(false)
    expect(candidateReachable(cand([["../../home/u/.ssh/id_rsa", "y"]]), locate, r)).toBe(false)
    expect(candidateReachable(cand([], [["/etc", ["passwd"]]]), locate, r)).toBe(false)
    expect(candidateReachable(cand([], [["include", ["../x"]]]), locate, r)).toBe(false)
  })
})

describe("bounded, streamed hashing", () => {
  it.prop("is the file's sha256 at any size around the chunk boundary", [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 * (1 << 20) }))], ([size]) => {
    const file = path.join(tmp, "sized")
    const data = Buffer.alloc(size)
    for (let i = 0; i < size; i += 997) data[i] = (i * 31) & 0xff
    fs.writeFileSync(file, data)
    expect(hashRegularFileSync(file, 1 << 30, () => undefined)).toBe(sha(data))
  }, { arbitrary: { runs: 20, seed: 8 } })

  it("sees a marker split by a chunk boundary", () => {
    const file = path.join(tmp, "marker")
    const data = Buffer.alloc(2 << 20, 0x20)
    data.write("__DATE__", (1 << 20) - 4, "latin1")
    fs.writeFileSync(file, data)
    let seen = false
    hashRegularFileSync(file, 1 << 30, (w) => void (seen ||= w.toString("latin1").includes("__DATE__")))
    expect(seen).toBe(true)
  })

  it("refuses a FIFO at once, a directory, and a file past the bound", () => {
    const fifo = path.join(tmp, "fifo")
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0)
    expect(hashRegularFileSync(fifo, 1 << 30, () => undefined)).toBeUndefined()
    expect(hashRegularFileSync(tmp, 1 << 30, () => undefined)).toBeUndefined()
    const big = path.join(tmp, "big")
    fs.writeFileSync(big, Buffer.alloc(4096))
    expect(hashRegularFileSync(big, 4095, () => undefined)).toBeUndefined()
    expect(hashRegularFileSync(big, 4096, () => undefined)).toBe(sha(Buffer.alloc(4096)))
  })

  it("stops reading a /proc file whose stat says 0 bytes at the bound", () => {
    // /proc/self/pagemap reads as terabytes: the bound, not the stat, ends it.
    let read = 0
    expect(hashRegularFileSync("/proc/self/pagemap", 4 << 20, (w) => void (read += w.length))).toBeUndefined()
    expect(read).toBeLessThan(8 << 20)
  })
})

describe("the .d text a direct hit writes", () => {
  /** What the real compiler writes for `args`, with the files it read, in a fresh directory. */
  const realDep = (cc: string, args: Array<string>) => {
    const dir = fs.mkdtempSync(path.join(tmp, `${cc}-`))
    fs.mkdirSync(path.join(dir, "inc"))
    fs.mkdirSync(path.join(dir, "sp ace"))
    fs.writeFileSync(path.join(dir, "inc", "a.h"), "#include <stddef.h>\n#define A 1\n")
    fs.writeFileSync(path.join(dir, "sp ace", "b#c.h"), "#define B 2\n")
    fs.writeFileSync(path.join(dir, "m.c"), '#include "a.h"\n#include "sp ace/b#c.h"\nint m(void) { return A + B; }\n')
    const r = spawnSync(cc, [...args, "-Iinc", "-c", "m.c", "-o", "m.o"], { cwd: dir })
    expect(r.status).toBe(0)
    const text = fs.readFileSync(path.join(dir, "m.d"), "utf8")
    const parsed = parseGccArgs([...args, "-Iinc", "-c", "m.c", "-o", "m.o"], cc === "clang" ? "clang" : "gcc")
    if (parsed._tag !== "Cacheable") throw new Error(parsed.reason)
    const verified = new Set(parseDepFile(text).map((f) => path.resolve(dir, f)))
    return { dir, text, verified, targets: depTargets(parsed.compilation) }
  }
  const VARIANTS = [["-MD"], ["-MD", "-MP"], ["-MMD"], ["-MD", "-MT", "tgt"], ["-MD", "-MQ", "q$x"], ["-MD", "-MT", "$(OBJ)/m.o"]]

  for (const cc of ["gcc", "clang"]) {
    for (const args of VARIANTS) {
      it(`keeps what ${cc} ${args.join(" ")} writes, byte for byte, and nothing added to it`, () => {
        const { dir, text, verified, targets } = realDep(cc, args)
        expect(verifiedDepText(text, dir, verified, targets)).toBe(text)
        for (const evil of [
          `${text}$(shell touch pwned)\n`,
          `${text}m.o: inc/a.h\n\ttouch pwned\n`,
          `${text}X != touch pwned\n`,
          `${text}X = y\n`,
          `${text}include /etc/passwd\n`,
          `${text}m.o: /etc/passwd\n`,
          text.replace("inc/a.h", "inc/$(shell id).h"),
          text.replace("m.c", "$$(shell id)")
        ]) expect(verifiedDepText(evil, dir, verified, targets)).toBeUndefined()
        // A file not among those just verified is not named either.
        expect(verifiedDepText(text, dir, new Set([...verified].filter((f) => !f.endsWith("a.h"))), targets)).toBeUndefined()
      })
    }
  }
})
