import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { TEMP_PREFIX, tempName, writeFileAtomically } from "../../src/fs/AtomicWrite.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "sct-atomic-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

let n = 0
const fresh = () => {
  const dir = path.join(root, String(n++))
  fs.mkdirSync(dir)
  return dir
}
const temps = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(TEMP_PREFIX))
const bytes = (size: number, fill: number) => Buffer.alloc(size, fill)

describe("writeFileAtomically", () => {
  // Small files are written synchronously, big ones through the thread pool: both must behave alike.
  it.each([["small", 3000], ["big", 3 << 20]])("puts a %s file in place whole, with the mode asked for", async (_, size) => {
    for (const replace of [undefined, "unlink"] as const) {
      const dir = fresh()
      const file = path.join(dir, "out.o")
      fs.writeFileSync(file, "old")
      await writeFileAtomically(file, bytes(size, 7), { mode: 0o640, ...(replace === undefined ? {} : { replace }) })
      expect(fs.readFileSync(file).equals(bytes(size, 7))).toBe(true)
      expect(fs.statSync(file).mode & 0o777).toBe(0o640)
      expect(temps(dir)).toEqual([])
    }
  })

  it("leaves the old file as it was when whoever asked is gone before the rename", async () => {
    const dir = fresh()
    const file = path.join(dir, "out.o")
    fs.writeFileSync(file, "old")
    const gone = new AbortController()
    gone.abort()
    await expect(writeFileAtomically(file, bytes(100, 1), { signal: gone.signal, replace: "unlink" })).rejects.toThrow()
    expect(fs.readFileSync(file, "utf8")).toBe("old")
    expect(temps(dir)).toEqual([])
  })

  it("replacing by unlink leaves another hard link to the old file untouched", async () => {
    const dir = fresh()
    const file = path.join(dir, "out.o")
    fs.writeFileSync(file, "old")
    fs.linkSync(file, path.join(dir, "elsewhere.o"))
    await writeFileAtomically(file, bytes(10, 2), { replace: "unlink" })
    expect(fs.readFileSync(path.join(dir, "elsewhere.o"), "utf8")).toBe("old")
    expect(fs.readFileSync(file).equals(bytes(10, 2))).toBe(true)
  })

  it("refuses to replace a directory, and leaves nothing behind", async () => {
    const dir = fresh()
    fs.mkdirSync(path.join(dir, "out.o"))
    await expect(writeFileAtomically(path.join(dir, "out.o"), bytes(10, 3), { replace: "unlink" })).rejects.toThrow()
    expect(fs.statSync(path.join(dir, "out.o")).isDirectory()).toBe(true)
    expect(temps(dir)).toEqual([])
  })

  it("fails cleanly where the directory does not exist", async () => {
    await expect(writeFileAtomically(path.join(root, "missing", "out.o"), bytes(10, 4))).rejects.toThrow(/ENOENT/)
  })

  it("names each temp file anew", () => {
    const names = new Set(Array.from({ length: 1000 }, tempName))
    expect(names.size).toBe(1000)
    for (const name of names) expect(name.startsWith(TEMP_PREFIX)).toBe(true)
  })
})
