import { Context, Data, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import type { Env } from "../config/Config.ts"
import { ensureSocketDir, lockName, socketPath } from "../config/SocketPath.ts"
import { encodeFrame, FrameReader } from "../protocol/Framing.ts"
import type { Request, Response } from "../protocol/Messages.ts"

/** The daemon could not be reached, or went away before it answered. */
export class DaemonUnavailable extends Data.TaggedError("DaemonUnavailable")<{ readonly message: string }> {}

/** A connection that broke after the request was sent: the daemon may have died in the compile. */
class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly message: string }> {}
/** Nobody listening: start a daemon. */
class NoDaemon extends Data.TaggedError("NoDaemon")<{ readonly code: string }> {}

const STARTUP_TIMEOUT_MS = 10_000

const exchange = (socket: string, request: Request) =>
  Effect.callback<Response, NoDaemon | ConnectionLost>((resume) => {
    const conn = net.createConnection(socket)
    const reader = new FrameReader()
    let connected = false
    let settled = false
    const settle = (e: Effect.Effect<Response, NoDaemon | ConnectionLost>) => {
      if (settled) return
      settled = true
      conn.destroy()
      resume(e)
    }
    conn.on("connect", () => {
      connected = true
      conn.write(encodeFrame(request))
    })
    conn.on("data", (chunk) => {
      const frames = reader.push(chunk)
      if (frames instanceof Error) settle(Effect.fail(new ConnectionLost({ message: frames.message })))
      else if (frames.length > 0) settle(Effect.succeed(frames[0] as Response))
    })
    conn.on("error", (e: NodeJS.ErrnoException) =>
      settle(Effect.fail(connected
        ? new ConnectionLost({ message: e.message })
        : new NoDaemon({ code: e.code ?? "unknown" }))))
    conn.on("close", () => settle(Effect.fail(new ConnectionLost({ message: "daemon closed the connection" }))))
    return Effect.sync(() => conn.destroy())
  })

/** Holds an abstract-socket lock while this client starts a daemon, so a `make -j16` starts one. */
const tryLock = (name: string) =>
  Effect.callback<net.Server | undefined>((resume) => {
    const server = net.createServer((c) => c.destroy())
    server.once("error", () => resume(Effect.succeed(undefined)))
    server.listen(name, () => resume(Effect.succeed(server)))
  })

const spawnDaemon = (env: Env, entry: string) =>
  Effect.sync(() => {
    const log = env["SCCACHE_ERROR_LOG"]
    let stderr: number | "ignore" = "ignore"
    if (log) {
      try {
        stderr = fs.openSync(log, "a")
      } catch { /* no log then */ }
    }
    const child = spawn(process.execPath, [entry], {
      detached: true,
      stdio: ["ignore", "ignore", stderr],
      env: { ...env, SCCACHE_START_SERVER: "1" } as NodeJS.ProcessEnv
    })
    child.unref()
    if (typeof stderr === "number") fs.closeSync(stderr)
    return child
  })

/** Talks to the daemon, starting one when none answers and replacing one of another build. */
export class DaemonClient extends Context.Service<DaemonClient, {
  readonly request: (req: Request, opts?: { readonly start?: boolean }) => Effect.Effect<Response, DaemonUnavailable>
}>()("sccache-ts/client/DaemonClient") {
  /** `entry` is the script a new daemon runs: this very bundle. */
  static readonly layer = (env: Env, entry: string) =>
    Layer.succeed(DaemonClient, DaemonClient.of({
      request: (req, opts) =>
        Effect.gen(function*() {
          const socket = socketPath(env)
          const deadline = Date.now() + STARTUP_TIMEOUT_MS
          let lock: net.Server | undefined
          let daemon: ChildProcess | undefined
          let pause = 2
          return yield* Effect.gen(function*() {
            while (true) {
              const res = yield* exchange(socket, req).pipe(Effect.result)
              if (res._tag === "Success" && res.success.type !== "version-mismatch") return res.success
              if (res._tag === "Failure" && res.failure._tag === "ConnectionLost") {
                return yield* new DaemonUnavailable({ message: res.failure.message })
              }
              if (opts?.start === false) return yield* new DaemonUnavailable({ message: "no daemon is running" })
              if (Date.now() > deadline) return yield* new DaemonUnavailable({ message: "the daemon did not start in time" })
              // No daemon, or one of another build on its way out: start ours (once) and wait for it.
              if (daemon !== undefined && daemon.exitCode !== null && daemon.exitCode !== 0) {
                return yield* new DaemonUnavailable({ message: `the daemon exited with status ${daemon.exitCode}` })
              }
              if (daemon === undefined) {
                const dirError = ensureSocketDir(socket)
                if (dirError !== undefined) {
                  return yield* new DaemonUnavailable({ message: `socket directory ${dirError.dir} ${dirError.message}` })
                }
                lock ??= yield* tryLock(lockName(socket, "starter"))
                if (lock !== undefined) daemon = yield* spawnDaemon(env, entry)
              }
              yield* Effect.sleep(pause)
              pause = Math.min(pause * 2, 50)
            }
          }).pipe(Effect.ensuring(Effect.sync(() => lock?.close())))
        })
    }))
}
