import * as net from "node:net"
import { encodeFrame, FrameReader, isBadFrame } from "../protocol/Framing.ts"
import type { CompileRequest, Request, Response } from "../protocol/Messages.ts"
import { BUILD_ID } from "../version.ts"

/** How one request went: an answer, nobody listening, or a connection that broke after the request. */
export type Exchanged =
  | { readonly _tag: "Answer"; readonly response: Response }
  | { readonly _tag: "NoDaemon"; readonly code: string }
  | { readonly _tag: "Lost"; readonly message: string }

/** One request, one response over the daemon's socket. No Effect: every compile's hit runs this. */
export const exchange = (socket: string, request: Request): Promise<Exchanged> =>
  new Promise((resolve) => {
    const conn = net.createConnection(socket)
    const reader = new FrameReader()
    let connected = false
    let settled = false
    const settle = (r: Exchanged) => {
      if (settled) return
      settled = true
      conn.destroy()
      resolve(r)
    }
    conn.on("connect", () => {
      connected = true
      conn.write(encodeFrame(request))
    })
    conn.on("data", (chunk) => {
      const frames = reader.push(chunk)
      if (isBadFrame(frames)) settle({ _tag: "Lost", message: frames.badFrame })
      else {
        // Keep-alive frames only say the daemon is still at work; the answer is the frame after them.
        const answer = (frames as Array<Response>).find((f) => f.type !== "busy")
        if (answer !== undefined) settle({ _tag: "Answer", response: answer })
      }
    })
    conn.on("error", (e: NodeJS.ErrnoException) =>
      settle(connected ? { _tag: "Lost", message: e.message } : { _tag: "NoDaemon", code: e.code ?? "unknown" }))
    conn.on("close", () => settle({ _tag: "Lost", message: "daemon closed the connection" }))
  })

/** Writes the compiler's output as the daemon captured it, and gives its exit status. */
export const replay = async (response: { readonly stdout: string; readonly stderr: string; readonly exitCode: number }): Promise<number> => {
  const write = (stream: NodeJS.WriteStream, data: string) =>
    data === "" ? Promise.resolve() : new Promise<void>((resolve) => stream.write(Buffer.from(data, "base64"), () => resolve()))
  await write(process.stdout, response.stdout)
  await write(process.stderr, response.stderr)
  return response.exitCode
}

/** What the client asks for a compile: everything the daemon needs to run it as this process would. */
export const compileRequest = (exe: string, args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): CompileRequest => ({
  type: "compile",
  build: BUILD_ID,
  exe,
  args,
  cwd: process.cwd(),
  env: env as Record<string, string>,
  umask: process.umask(),
  pid: process.pid,
  stderrTty: process.stderr.isTTY === true
})
