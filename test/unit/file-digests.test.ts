import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { it as effectIt } from "@effect/vitest"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FileDigests } from "../../src/cache/FileDigests.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "sct-digests-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

/** One look's answer for one directory. */
const absent = (digests: FileDigests["Service"], dir: string, names: ReadonlyArray<string>) => digests.absence()(dir, names)

const service = () => Effect.runSync(Effect.gen(function*() {
  return yield* FileDigests
}).pipe(Effect.provide(FileDigests.layer)))

describe("absent files, as the compiler's include search sees them", () => {
  it("in a directory that keeps changing, looks at the few names asked for, as the compiler would", () => {
    const build = path.join(root, "build")
    fs.mkdirSync(build)
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(build, `o${i}.o`), "")
    fs.symlinkSync(path.join(build, "nowhere.h"), path.join(build, "dangling.h"))
    const digests = service()
    expect(absent(digests, build, ["stdio.h", "string.h"])).toBe(true)
    // Not from a listing, which names it: the compiler can't open it and goes on to the next directory.
    expect(absent(digests, build, ["dangling.h"])).toBe(true)
    fs.writeFileSync(path.join(build, "stdio.h"), "")
    expect(absent(digests, build, ["string.h", "stdio.h"])).toBe(false)
  })

  it("in a directory that has settled, goes by its listing, and sees a new name at once", async () => {
    const inc = path.join(root, "include")
    fs.mkdirSync(inc)
    fs.writeFileSync(path.join(inc, "a.h"), "")
    fs.symlinkSync(path.join(inc, "nowhere.h"), path.join(inc, "dangling.h"))
    // ctime can't be set back: wait until the directory's last change is older than the settling time.
    await new Promise((r) => setTimeout(r, 1100))
    const digests = service()
    expect(absent(digests, inc, ["b.h", "c.h"])).toBe(true)
    expect(absent(digests, inc, ["a.h"])).toBe(false)
    // The listing names it (a miss, never a wrong hit).
    expect(absent(digests, inc, ["dangling.h"])).toBe(false)
    fs.writeFileSync(path.join(inc, "b.h"), "")
    expect(absent(digests, inc, ["b.h"])).toBe(false)
  })

  it("a missing directory, or a file where a directory was, holds nothing", () => {
    const digests = service()
    fs.writeFileSync(path.join(root, "a-file.h"), "")
    expect(absent(digests, path.join(root, "none", "deeper"), ["x.h"])).toBe(true)
    expect(absent(digests, path.join(root, "a-file.h"), ["x.h"])).toBe(true)
  })
})

describe("absent names in many directories at once, parents looked at before their children", () => {
  const tree = path.join(root, "tree")
  const dirs = ["", "inc", "inc/sub", "inc/bits", "inc/none", "inc/none/deeper", "sys", "sys/bits", "file.h", "file.h/x", "missing", "missing/bits"]
  const names = ["a.h", "b.h", "c.h", "x.h", "y.h", "sub", "bits", "none", "file.h"]
  beforeAll(async () => {
    for (const d of ["inc/sub", "inc/bits", "sys"]) fs.mkdirSync(path.join(tree, d), { recursive: true })
    for (const f of ["inc/a.h", "inc/b.h", "inc/sub/x.h", "inc/bits/y.h", "sys/c.h", "file.h"]) fs.writeFileSync(path.join(tree, f), "")
    // Settled, so that their listings are what is looked at.
    await new Promise((r) => setTimeout(r, 1100))
  })

  /** What the compiler finds: nothing it could open at that path. */
  const nothingThere = (dir: string, name: string) => {
    try {
      return fs.statSync(path.join(tree, dir, name), { throwIfNoEntry: false }) === undefined
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ENOTDIR"
    }
  }
  const digests = service()

  effectIt.prop(
    "agrees with looking at every name in every directory",
    [Schema.Array(Schema.Tuple([Schema.Literals(dirs), Schema.Array(Schema.Literals(names))]))],
    ([query]) => {
      const expected = query.every(([d, ns]) => ns.every((n) => nothingThere(d, n)))
      expect(digests.allAbsent(query.map(([d, ns]) => [path.join(tree, d), ns] as const))).toBe(expected)
    }
  )

  it("a subdirectory that was missing from its parent's listing is seen as soon as it appears", () => {
    const fresh = service()
    const query = [[path.join(tree, "sys"), ["d.h"]], [path.join(tree, "sys", "new"), ["d.h"]]] as const
    expect(fresh.allAbsent(query)).toBe(true)
    fs.mkdirSync(path.join(tree, "sys", "new"))
    fs.writeFileSync(path.join(tree, "sys", "new", "d.h"), "")
    expect(fresh.allAbsent(query)).toBe(false)
    fs.rmSync(path.join(tree, "sys", "new"), { recursive: true })
  })
})
