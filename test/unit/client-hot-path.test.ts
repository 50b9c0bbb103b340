import { it } from "@effect/vitest"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect } from "vitest"
import { resolveCompiler } from "../../src/client/CompilerOnPath.ts"
import { dropOwnNames, locateCompiler } from "../../src/client/ResolveCompiler.ts"
import { exchange } from "../../src/client/Exchange.ts"
import { connectIfOurs } from "../../src/client/OurSocket.ts"
import { encodeFrame } from "../../src/protocol/Framing.ts"
import { basenameOf, dirnameOf, resolvePath } from "../../src/fs/PosixPath.ts"

// The client's hot path does without node:path and node:fs: what it does instead must agree with them.

const Piece = Schema.Literals(["a", "bc", ".", "..", "", "/", "//", "x/y", "../z", "./q/", "/r/../s"])

describe("the client's path helpers", () => {
  it.prop("resolve as node:path.posix.resolve does", [Schema.Array(Schema.Array(Piece))], ([segments]) => {
    const texts = segments.map((ps) => ps.join(""))
    expect(resolvePath("/w/d", ...texts)).toBe(path.posix.resolve("/w/d", ...texts))
  }, { arbitrary: { runs: 500, seed: 7 } })

  it.prop("take basenames as node:path.posix.basename does", [Schema.Array(Piece)], ([ps]) => {
    expect(basenameOf(ps.join(""))).toBe(path.posix.basename(ps.join("")))
  }, { arbitrary: { runs: 500, seed: 8 } })

  it.prop("take dirnames of resolved paths as node:path.posix.dirname does", [Schema.Array(Piece)], ([ps]) => {
    const p = path.posix.resolve("/w", ps.join(""))
    expect(dirnameOf(p)).toBe(path.posix.dirname(p))
  }, { arbitrary: { runs: 500, seed: 9 } })
})

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sct-hot-"))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

const listen = (socket: string) => new Promise<net.Server>((resolve) => {
  const s = net.createServer((c) => c.end())
  s.listen(socket, () => resolve(s))
})

describe("connecting only to our own socket, without lstat", () => {
  /** What connectIfOurs does with a socket: the name it connected by and the directory it was in then. */
  const tryIt = async (socket: string) => {
    const before = process.cwd()
    const got = await connectIfOurs(socket, (name) => ({ name, cwd: process.cwd() }))
    expect(process.cwd()).toBe(before)
    return got?.connected
  }

  it("connects by the socket's own name from inside its directory, and comes back", async () => {
    const dir = path.join(tmp, "ours")
    fs.mkdirSync(dir, { mode: 0o700 })
    const server = await listen(path.join(dir, "d.sock"))
    try {
      expect(await tryIt(path.join(dir, "d.sock"))).toEqual({ name: "d.sock", cwd: fs.realpathSync(dir) })
    } finally {
      server.close()
    }
  })

  it("leaves everything else to the lstat check: no socket, a file, a directory others can write, a symlinked directory", async () => {
    const dir = path.join(tmp, "shared")
    fs.mkdirSync(dir, { mode: 0o700 })
    const server = await listen(path.join(dir, "d.sock"))
    fs.writeFileSync(path.join(dir, "file.sock"), "")
    fs.symlinkSync(dir, path.join(tmp, "link"))
    try {
      expect(await tryIt(path.join(dir, "none.sock"))).toBeUndefined()
      expect(await tryIt(path.join(tmp, "nodir", "d.sock"))).toBeUndefined()
      expect(await tryIt(path.join(dir, "file.sock"))).toBeUndefined()
      expect(await tryIt(path.join(tmp, "link", "d.sock"))).toBeUndefined()
      fs.chmodSync(dir, 0o777)
      expect(await tryIt(path.join(dir, "d.sock"))).toBeUndefined()
      fs.chmodSync(dir, 0o700)
      expect(await tryIt(path.join(dir, "d.sock"))).toEqual({ name: "d.sock", cwd: fs.realpathSync(dir) })
    } finally {
      server.close()
    }
  })
})

describe("the connection a hit makes (here on Node)", () => {
  /** A listener that answers every request "compiled" with `tag` on stdout, and counts its connections. */
  const answering = async (socket: string, tag: string) => {
    let connections = 0
    const server = net.createServer((c) => {
      connections++
      c.once("data", () => c.end(encodeFrame({ type: "compiled", exitCode: 0, stdout: Buffer.from(tag).toString("base64"), stderr: "" })))
    })
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    return { connections: () => connections, close: () => server.close() }
  }

  it("reaches the socket that was checked, never one of the same name where the client stands", async () => {
    const ours = path.join(tmp, "pinned")
    const decoyDir = path.join(tmp, "build")
    fs.mkdirSync(ours, { mode: 0o700 })
    fs.mkdirSync(decoyDir, { recursive: true })
    const real = await answering(path.join(ours, "d.sock"), "ours")
    const decoy = await answering(path.join(decoyDir, "d.sock"), "decoy")
    const before = process.cwd()
    process.chdir(decoyDir)
    try {
      const request = { type: "zero-stats", build: "test" } as const
      const got = await connectIfOurs(path.join(ours, "d.sock"), (name) => exchange(name, request))
      expect(process.cwd()).toBe(fs.realpathSync(decoyDir))
      const res = await got?.connected
      expect(res).toEqual({ _tag: "Answer", response: expect.objectContaining({ stdout: Buffer.from("ours").toString("base64") }) })
      expect([real.connections(), decoy.connections()]).toEqual([1, 0])
    } finally {
      process.chdir(before)
      real.close()
      decoy.close()
    }
  })
})

describe("finding the compiler without node:fs", () => {
  const bin = path.join(tmp, "bin")
  const launcher = path.join(bin, "sccache-ts")
  fs.mkdirSync(bin)
  fs.writeFileSync(launcher, "#!/bin/sh\n", { mode: 0o755 })
  // A masquerading symlink and a hard link are both the launcher; the real compiler comes later on PATH.
  const masq = path.join(tmp, "masq")
  fs.mkdirSync(masq)
  fs.symlinkSync(launcher, path.join(masq, "cc1"))
  fs.linkSync(launcher, path.join(masq, "cc2"))
  const real = path.join(tmp, "real")
  fs.mkdirSync(real)
  for (const n of ["cc1", "cc2", "cc3"]) fs.writeFileSync(path.join(real, n), "#!/bin/sh\n", { mode: 0o755 })
  fs.writeFileSync(path.join(real, "noexec"), "", { mode: 0o644 })
  const PATH = `${masq}:${real}`

  it("agrees with the exact lookup: skips the launcher by any name, takes paths as given", async () => {
    for (const name of ["cc1", "cc3", "nothere", "noexec", path.join(real, "cc3"), "../real/cc1", path.join(masq, "cc1"), path.join(real, "noexec")]) {
      const exact = resolveCompiler(name, PATH, bin, launcher)
      expect({ name, found: await locateCompiler(name, PATH, bin, launcher) }).toEqual({ name, found: exact })
    }
    expect(await locateCompiler("cc1", PATH, bin, launcher)).toBe(path.join(real, "cc1"))
    expect(await locateCompiler("cc2", PATH, bin, launcher)).toBe(path.join(real, "cc2"))
  })

  it("drops our own names, by name or by file, up to the compiler", async () => {
    expect(await dropOwnNames(["sccache", "sccache-ts", path.join(masq, "cc2"), "gcc", "-c"], launcher, bin)).toEqual(["gcc", "-c"])
    expect(await dropOwnNames([path.join(real, "cc1"), "-c"], launcher, bin)).toEqual([path.join(real, "cc1"), "-c"])
  })
})

describe("the built client", () => {
  it("is one file that imports nothing up front: node:fs, node:path and the slow paths load only when needed", () => {
    const client = fs.readFileSync(path.join(import.meta.dirname, "..", "..", "dist", "client.mjs"), "utf8")
    // Static imports are `import … from "x"` or `import "x"`; dynamic ones are `import("x")`.
    expect(client.match(/\bimport\s*(?:[\w*{][^;]*?from\s*)?["'][^"']+["']/g) ?? []).toEqual([])
    const dynamic = new Set([...client.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]))
    expect(dynamic).toContain("node:fs")
    expect(dynamic).toContain("./client-StartDaemon.mjs")
    expect(dynamic).toContain("./client-RunHere.mjs")
  })

  it("compiles here without loading node:fs unless a jobserver is advertised", () => {
    const runHere = fs.readFileSync(path.join(import.meta.dirname, "..", "..", "dist", "client-RunHere.mjs"), "utf8")
    expect(runHere.match(/\bimport\s*(?:[\w*{][^;]*?from\s*)?["'][^"']+["']/g) ?? []).toEqual([])
    expect([...runHere.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1])).toContain("./client-JobserverProc.mjs")
  })

  it("has a bytecode build for Bun beside it, which imports nothing up front either", () => {
    const dist = path.join(import.meta.dirname, "..", "..", "dist")
    const bun = fs.readFileSync(path.join(dist, "client-bun.js"), "utf8")
    expect(bun).toMatch(/^\/\/ @bun @bytecode @bun-cjs\n/)
    expect(fs.statSync(path.join(dist, "client-bun.js.jsc")).size).toBeGreaterThan(0)
    expect(bun.match(/\b(?:require\(|import\s*(?:[\w*{][^;]*?from\s*)?["'])/g) ?? []).toEqual([])
    expect([...bun.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1])).toContain("./client-StartDaemon.mjs")
  })
})
