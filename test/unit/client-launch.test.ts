import { it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect } from "vitest"
import { nodeIsRecentEnough } from "../../src/client/Daemon.ts"
import { isOwnName } from "../../src/client/ResolveCompiler.ts"
import { inspectSocket, lockName, prepareSocketDir } from "../../src/config/SocketFiles.ts"

describe("the Node the daemon needs", () => {
  it("is 22.19 or newer, by major then minor", () => {
    for (const v of ["22.19.0", "22.20.1", "23.0.0", "24.21.0", "30.1.2"]) expect(nodeIsRecentEnough(v)).toBe(true)
    for (const v of ["22.18.9", "22.9.0", "20.19.5", "18.20.0", "0.12.0"]) expect(nodeIsRecentEnough(v)).toBe(false)
  })

  it.prop("agrees with comparing (major, minor) to (22, 19)", [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 40 })), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 40 }))], ([major, minor]) => {
    expect(nodeIsRecentEnough(`${major}.${minor}.0`)).toBe(major > 22 || (major === 22 && minor >= 19))
  }, { arbitrary: { runs: 300, seed: 3 } })
})

describe("names sccache-ts answers to", () => {
  it("are its own and sccache's, wherever they live; anything else is a compiler", () => {
    for (const n of ["sccache-ts", "sccache", "/usr/local/bin/sccache", "./bin/sccache-ts"]) expect(isOwnName(n)).toBe(true)
    for (const n of ["gcc", "sccache-ts.sh", "xsccache", "/opt/sccache/bin/cc", "sccache2"]) expect(isOwnName(n)).toBe(false)
  })
})

describe("the socket's directory and locks", () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sct-unit-"))

  it("makes the directory 0700 level by level, and refuses one others can write", () => {
    const dir = path.join(tmp(), "a", "b")
    expect(prepareSocketDir(path.join(dir, "d.sock"))).toBeUndefined()
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
    fs.chmodSync(dir, 0o777)
    expect(prepareSocketDir(path.join(dir, "d.sock"))).toMatch(/writable by others/)
  })

  it("finds nothing, or refuses what is not our socket", () => {
    const dir = tmp()
    fs.chmodSync(dir, 0o700)
    expect(inspectSocket(path.join(dir, "none.sock"))).toBe("absent")
    fs.writeFileSync(path.join(dir, "file.sock"), "")
    expect(inspectSocket(path.join(dir, "file.sock"))).toEqual({ refused: expect.stringMatching(/is not a socket/) })
  })

  it("names locks from a secret made once per directory: stable there, different elsewhere", () => {
    const [a, b] = [tmp(), tmp()]
    const sock = (d: string) => path.join(d, "d.sock")
    const first = lockName(sock(a), "daemon")
    expect(lockName(sock(a), "daemon")).toBe(first)
    expect(lockName(sock(a), "starter")).not.toBe(first)
    lockName(sock(b), "daemon")
    expect(fs.readFileSync(path.join(b, "lock.secret"), "utf8")).not.toBe(fs.readFileSync(path.join(a, "lock.secret"), "utf8"))
    expect(first).toContain(fs.readFileSync(path.join(a, "lock.secret"), "utf8"))
    expect(fs.statSync(path.join(a, "lock.secret")).mode & 0o777).toBe(0o600)
    // Abstract names must fit sun_path's 108 bytes.
    expect(Buffer.byteLength(first)).toBeLessThan(108)
  })
})
