import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { keptDigest, parseStore } from "../../src/fs/KeptDigests.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "sct-kept-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")
/** A hasher that counts its calls. */
const counting = () => {
  const calls: Array<string> = []
  const compute = async (file: string) => {
    calls.push(file)
    return fs.existsSync(file) ? sha(file) : ""
  }
  return { calls, compute }
}

const lib = path.join(root, "librustc_driver.so")
const other = path.join(root, "libstd.so")

// Files changed within the last second are never kept: let these settle first.
beforeAll(async () => {
  fs.writeFileSync(lib, "driver v1")
  fs.writeFileSync(other, "std v1")
  await new Promise((r) => setTimeout(r, 1100))
})

describe("keptDigest", () => {
  it("hashes a library once, and a later daemon reads the kept digest", async () => {
    const store = path.join(root, "once.json")
    const first = counting()
    expect(await keptDigest(store, lib, first.compute)).toBe(sha(lib))
    expect(first.calls).toEqual([lib])
    const later = counting()
    expect(await keptDigest(store, lib, later.compute)).toBe(sha(lib))
    expect(later.calls).toEqual([])
  })

  it("keeps the digests of several libraries hashed at once", async () => {
    const store = path.join(root, "several.json")
    const first = counting()
    await Promise.all([keptDigest(store, lib, first.compute), keptDigest(store, other, first.compute)])
    const later = counting()
    expect(await Promise.all([keptDigest(store, lib, later.compute), keptDigest(store, other, later.compute)])).toEqual([sha(lib), sha(other)])
    expect(later.calls).toEqual([])
  })

  it("hashes again once the library changed (a new one is not kept until it settles)", async () => {
    const store = path.join(root, "changed.json")
    const file = path.join(root, "changing.so")
    fs.writeFileSync(file, "v1")
    await new Promise((r) => setTimeout(r, 1100))
    await keptDigest(store, file, counting().compute)
    fs.writeFileSync(file, "v2, longer")
    const after = counting()
    expect(await keptDigest(store, file, after.compute)).toBe(sha(file))
    expect(after.calls).toEqual([file])
    const again = counting()
    expect(await keptDigest(store, file, again.compute)).toBe(sha(file))
    expect(again.calls).toEqual([file])
  })

  it("does not keep what could not be read", async () => {
    const store = path.join(root, "unreadable.json")
    const gone = path.join(root, "gone.so")
    expect(await keptDigest(store, gone, counting().compute)).toBe("")
    expect(fs.existsSync(store)).toBe(false)
  })

  it("believes nothing of a store that is not one, and still answers", async () => {
    for (const [name, text] of [["garbage", "{not json"], ["array", "[1,2]"], ["wrong", JSON.stringify({ [lib]: { id: "x", digest: "not hex" } })]]) {
      const store = path.join(root, `${name}.json`)
      fs.writeFileSync(store, text)
      const c = counting()
      expect(await keptDigest(store, lib, c.compute)).toBe(sha(lib))
      expect(c.calls).toEqual([lib])
    }
  })

  it("takes a digest only for the very file it was kept for", async () => {
    const store = path.join(root, "forged.json")
    // A digest kept under another identity (another inode or time) is not this file's.
    fs.writeFileSync(store, JSON.stringify({ [lib]: { id: "1:2:3:4:5", digest: "0".repeat(64) } }))
    const c = counting()
    expect(await keptDigest(store, lib, c.compute)).toBe(sha(lib))
    expect(c.calls).toEqual([lib])
  })

  it("does not follow a store that is a symlink", async () => {
    const real = path.join(root, "real.json")
    await keptDigest(real, lib, counting().compute)
    const link = path.join(root, "link.json")
    fs.symlinkSync(real, link)
    const c = counting()
    expect(await keptDigest(link, lib, c.compute)).toBe(sha(lib))
    expect(c.calls).toEqual([lib])
  })
})

describe("parseStore", () => {
  it("keeps only entries of the right shape", () => {
    const good = { id: "1:2:3:4:5", digest: "a".repeat(64) }
    expect(parseStore(JSON.stringify({ "/a": good, "/b": { id: 1, digest: "a".repeat(64) }, "/c": null, "/d": { id: "x" } }))).toEqual({ "/a": good })
    expect(parseStore("null")).toEqual({})
    expect(parseStore("")).toEqual({})
  })
})
