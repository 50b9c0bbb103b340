import { encodeFrame, FrameReader, isBadFrame } from "../protocol/Framing.ts"
import type { Compiled, CompileRequest, Request, Response } from "../protocol/Messages.ts"
import { BUILD_ID } from "../version.ts"
import { connectUnix, writeAll } from "./Runtime.ts"

/**
 * How long the client listens to a silent daemon before it compiles by itself. A working daemon
 * sends a keep-alive every second, so only a stuck one (stopped, deadlocked, swapping) hits this.
 */
export const SILENCE_MS = 10_000

/** How one request went: an answer, nobody listening, a connection that broke, or a daemon gone quiet. */
export type Exchanged =
  | { readonly _tag: "Answer"; readonly response: Response }
  | { readonly _tag: "NoDaemon"; readonly code: string }
  | { readonly _tag: "Lost"; readonly message: string }
  | { readonly _tag: "Silent" }

/**
 * A request, or one still being made: a compile connects while it looks for its compiler, and
 * sends once both are done (nothing, when there is nothing to ask after all).
 */
export type Asking = Request | Promise<Request | undefined>

/**
 * One request, then the daemon's frames until the one that answers it: keep-alives only push the
 * silence bound back. No Effect: every compile's hit runs this.
 */
export const exchange = (socket: string, request: Asking, silenceMs = SILENCE_MS): Promise<Exchanged> =>
  new Promise((resolve) => {
    const reader = new FrameReader()
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    // Bun may report a failed connect before connectUnix has even returned.
    let close: (() => void) | undefined
    const settle = (r: Exchanged) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
      close?.()
    }
    const listen = () => {
      clearTimeout(timer)
      timer = setTimeout(() => settle({ _tag: "Silent" }), silenceMs)
    }
    listen()
    close = connectUnix(socket, {
      open: (send) =>
        void Promise.resolve(request).then(
          (r) => (r === undefined ? settle({ _tag: "Lost", message: "nothing was asked" }) : send(encodeFrame(r))),
          // The caller sees why from the request itself.
          () => settle({ _tag: "Lost", message: "nothing was asked" })
        ),
      data: (chunk) => {
        listen()
        const frames = reader.push(chunk)
        if (isBadFrame(frames)) return settle({ _tag: "Lost", message: frames.badFrame })
        const answer = frames.find((f) => (f as Response).type !== "busy")
        if (answer !== undefined) settle({ _tag: "Answer", response: answer as Response })
      },
      fail: (code, opened) => settle(opened ? { _tag: "Lost", message: code } : { _tag: "NoDaemon", code }),
      end: () => settle({ _tag: "Lost", message: "daemon closed the connection" })
    })
    if (settled) close()
  })

/** Exit status 141: what a shell reports for a compiler killed by SIGPIPE, which we can't re-raise (ignored). */
const BROKEN_PIPE = 141

/**
 * Writes the compiler's output as the daemon captured it and gives its exit status; a compiler that
 * died of a signal kills us with the same one, so the shell says "Segmentation fault" as it would.
 */
export const replay = async (response: Compiled): Promise<number> => {
  for (const [fd, data] of [[1, response.stdout], [2, response.stderr]] as const) {
    if (data !== "" && !(await writeAll(fd, Buffer.from(data, "base64")))) return BROKEN_PIPE
  }
  return response.signal === undefined ? response.exitCode : dieOf(response.signal, response.exitCode)
}

/**
 * Dies of `signal` (its default action), as the compiler did. If we survive it (a signal this
 * runtime ignores, as both do SIGPIPE), the shell's convention for that death is the exit status.
 */
export const dieOf = async (signal: string, fallback: number): Promise<number> => {
  process.removeAllListeners(signal)
  try {
    process.kill(process.pid, signal)
  } catch { /* not a signal name this runtime knows */ }
  const { constants } = await import("node:os")
  const n = (constants.signals as Record<string, number>)[signal]
  return n === undefined ? fallback : 128 + n
}

const strict = new TextDecoder("utf-8", { fatal: true })
const isUtf8 = (bytes: Uint8Array): boolean => {
  try {
    strict.decode(bytes)
    return true
  } catch {
    return false
  }
}

/**
 * Whether argv, the environment or the working directory hold bytes that are not UTF-8: the
 * runtime turned them into U+FFFD, so the strings we have are not what the compiler must get. Only
 * when a U+FFFD shows up are the raw bytes read (an honest U+FFFD is valid UTF-8).
 */
export const hasLossyBytes = async (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>, cwd: string): Promise<boolean> => {
  // One search through one string (JSON keeps U+FFFD as it is): every compile asks this.
  if (!JSON.stringify([argv, env, cwd]).includes("\uFFFD")) return false
  const fs = await import("node:fs")
  try {
    return !isUtf8(fs.readFileSync("/proc/self/cmdline")) || !isUtf8(fs.readFileSync("/proc/self/environ")) ||
      !isUtf8(fs.readlinkSync("/proc/self/cwd", { encoding: "buffer" }))
  } catch {
    return true
  }
}

/** What the client asks for a compile: everything the daemon needs to run it as this process would. */
export const compileRequest = (
  exe: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  extra: { readonly lossy?: boolean; readonly stderrTty?: boolean; readonly cwd?: string } = {}
): CompileRequest => ({
  type: "compile",
  build: BUILD_ID,
  exe,
  args,
  cwd: extra.cwd ?? process.cwd(),
  env: env as Record<string, string>,
  umask: process.umask(),
  pid: process.pid,
  ...(extra.lossy ? { lossy: true } : {}),
  stderrTty: extra.stderrTty === true
})
