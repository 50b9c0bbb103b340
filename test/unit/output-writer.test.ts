import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { NOT_REGULAR_OUTPUT, nonRegularOutput } from "../../src/cache/OutputWriter.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-outputs-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("outputs the cache can write", () => {
  it("lets through outputs not there yet, under a directory that is not one, and regular files", () => {
    fs.writeFileSync(path.join(dir, "a-file"), "")
    fs.writeFileSync(path.join(dir, "old.o"), "")
    // The compiler creates the first and says why it can't create the second: neither is for us to refuse.
    expect(nonRegularOutput(dir, ["new.o", "a-file/x.o", "missing-dir/x.o", "old.o"])).toBeUndefined()
  })

  it("refuses a device, a symlink or a directory in an output's place", () => {
    fs.symlinkSync(path.join(dir, "old.o"), path.join(dir, "link.o"))
    fs.mkdirSync(path.join(dir, "dir.o"))
    for (const out of ["/dev/null", "link.o", "dir.o"]) expect({ out, why: nonRegularOutput(dir, ["new.o", out]) }).toEqual({ out, why: NOT_REGULAR_OUTPUT })
  })
})
