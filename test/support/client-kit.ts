/**
 * For the client's e2e tests: copies of the package with a chosen set of runtimes, a compiler
 * wrapper that records which runtime ran it, and a fake daemon that records what it is sent.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"
import { ROOT } from "./harness.ts"

export const REAL_BUN = path.join(ROOT, "node_modules", "bun")
export const REAL_NODE = path.join(ROOT, "node_modules", "node")
/** A PATH whose `node` is new enough for the daemon (the repository's own), then the system's. */
export const PATH_WITH_NODE = `${path.join(ROOT, "node_modules", ".bin")}:${process.env["PATH"]}`

/**
 * A copy of the package at `dir` (launcher and dist/, no source): `bun` and `node` say what its
 * node_modules holds: the real runtime (linked), nothing, Bun's stub (`"stub"`), or a `node` that
 * is a script (`text`).
 */
export const packageCopy = (dir: string, opts: { bun: boolean | "stub"; node: "real" | "none" | { text: string } }): string => {
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true })
  fs.copyFileSync(path.join(ROOT, "bin", "sccache-ts"), path.join(dir, "bin", "sccache-ts"))
  fs.chmodSync(path.join(dir, "bin", "sccache-ts"), 0o755)
  fs.cpSync(path.join(ROOT, "dist"), path.join(dir, "dist"), { recursive: true })
  fs.mkdirSync(path.join(dir, "node_modules"))
  if (opts.bun === true) fs.symlinkSync(REAL_BUN, path.join(dir, "node_modules", "bun"))
  else if (opts.bun === "stub") {
    // The bun package as npm --ignore-scripts or pnpm leave it: bun.exe and bunx.exe are the stub
    // the package ships (executable, as npm makes its bins), which fails until its postinstall runs.
    const stub = `echo "Error: Bun's postinstall script was not run." >&2\nexit 1\n`
    fs.mkdirSync(path.join(dir, "node_modules", "bun", "bin"), { recursive: true })
    for (const exe of ["bun.exe", "bunx.exe"]) fs.writeFileSync(path.join(dir, "node_modules", "bun", "bin", exe), stub, { mode: 0o755 })
  }
  const node = opts.node
  if (node === "real") fs.symlinkSync(REAL_NODE, path.join(dir, "node_modules", "node"))
  else if (node !== "none") {
    fs.mkdirSync(path.join(dir, "node_modules", "node", "bin"), { recursive: true })
    fs.writeFileSync(path.join(dir, "node_modules", "node", "bin", "node"), node.text, { mode: 0o755 })
  }
  return path.join(dir, "bin", "sccache-ts")
}

/**
 * A compiler that notes the program that ran it (its parent: the client, when it runs the compiler
 * itself) in `log`, then is gcc.
 */
export const recordingCompiler = (dir: string, log: string): string => {
  const p = path.join(dir, "reccc")
  fs.writeFileSync(p, `#!/bin/sh\nreadlink /proc/$PPID/exe >> '${log}'\nexec gcc "$@"\n`, { mode: 0o755 })
  return p
}

/** A daemon stand-in on `socket`: records each request, and answers as `answer` says (or never). */
export const fakeDaemon = async (
  socket: string,
  answer: (request: unknown, conn: net.Socket) => void
): Promise<{ readonly requests: Array<unknown>; readonly connections: () => number; readonly close: () => Promise<void> }> => {
  const requests: Array<unknown> = []
  const conns = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((conn) => {
    connections++
    conns.add(conn)
    conn.on("close", () => conns.delete(conn))
    conn.on("error", () => {})
    const reader = new FrameReader()
    conn.on("data", (chunk) => {
      const frames = reader.push(chunk)
      if (isBadFrame(frames) || frames.length === 0) return
      requests.push(frames[0])
      answer(frames[0], conn)
    })
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  return {
    requests,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const c of conns) c.destroy()
        server.close(() => resolve())
      })
  }
}

export const frame = encodeFrame
