import { Context, Data, Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import type { Env } from "../config/Config.ts"
import { absolutePaths, effectiveConfig } from "../config/ConfigFile.ts"
import { ensureSocketDir } from "../config/SocketDir.ts"
import { lockName, socketPath } from "../config/SocketPath.ts"
import type { Request, Response } from "../protocol/Messages.ts"
import { exchange } from "./Exchange.ts"

/** The daemon could not be reached, or went away before it answered. */
export class DaemonUnavailable extends Data.TaggedError("DaemonUnavailable")<{ readonly message: string }> {}

/** sccache's default; its config file's `server_startup_timeout_ms` changes it. */
const STARTUP_TIMEOUT_MS = 10_000

const startupTimeoutMs = (env: Env): number => {
  const ms = Number(env["SCCACHE_SERVER_STARTUP_TIMEOUT_MS"])
  return Number.isInteger(ms) && ms > 0 ? ms : STARTUP_TIMEOUT_MS
}

/** Holds an abstract-socket lock while this client starts a daemon, so a `make -j16` starts one. */
const tryLock = (name: string) =>
  Effect.callback<net.Server | undefined>((resume) => {
    const server = net.createServer((c) => c.destroy())
    server.once("error", () => resume(Effect.succeed(undefined)))
    server.listen(name, () => resume(Effect.succeed(server)))
  })

const spawnDaemon = (env: Env, entry: string, socket: string) =>
  Effect.sync(() => {
    const log = env["SCCACHE_ERROR_LOG"]
    let stderr: number | "ignore" = "ignore"
    if (log) {
      try {
        // Not through a symlink: in a shared directory another user could point it at our files.
        const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants
        stderr = fs.openSync(log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600)
      } catch { /* no log then */ }
    }
    // Started in /, so a long-lived daemon never keeps a build directory (or a mount) busy; the
    // socket path and the config file's and variables' paths go along absolute, since a relative
    // one meant the client's directory (the daemon reads the file again for its warnings).
    const child = spawn(process.execPath, [entry], {
      cwd: "/",
      detached: true,
      stdio: ["ignore", "ignore", stderr],
      env: { ...absolutePaths(env, process.cwd()), SCCACHE_START_SERVER: "1", SCCACHE_SERVER_UDS: socket } as NodeJS.ProcessEnv
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
  static readonly layer = (processEnv: Env, entry: string, env = effectiveConfig(processEnv).env) =>
    Layer.succeed(DaemonClient, DaemonClient.of({
      request: (req, opts) =>
        Effect.gen(function*() {
          const socket = socketPath(env)
          const deadline = Date.now() + startupTimeoutMs(env)
          let lock: net.Server | undefined
          let daemon: ChildProcess | undefined
          let pause = 2
          return yield* Effect.gen(function*() {
            while (true) {
              const res = yield* Effect.promise(() => exchange(socket, req))
              if (res._tag === "Answer" && res.response.type !== "version-mismatch") return res.response
              // After the request went out: the daemon may have died in this very compile.
              if (res._tag === "Lost") return yield* new DaemonUnavailable({ message: res.message })
              if (opts?.start === false) return yield* new DaemonUnavailable({ message: "no daemon is running" })
              if (Date.now() > deadline) return yield* new DaemonUnavailable({ message: "the daemon did not start in time" })
              if (daemon !== undefined && daemon.exitCode !== null && daemon.exitCode !== 0) {
                return yield* new DaemonUnavailable({ message: `the daemon exited with status ${daemon.exitCode}` })
              }
              // No daemon, or one of another build on its way out: start ours (once) and wait for it.
              if (daemon === undefined) {
                const dirError = ensureSocketDir(socket)
                if (dirError !== undefined) {
                  return yield* new DaemonUnavailable({ message: `socket directory ${dirError.dir} ${dirError.message}` })
                }
                lock ??= yield* tryLock(lockName(socket, "starter"))
                if (lock !== undefined) daemon = yield* spawnDaemon(env, entry, socket)
              }
              yield* Effect.sleep(pause)
              pause = Math.min(pause * 2, 50)
            }
          }).pipe(Effect.ensuring(Effect.sync(() => lock?.close())))
        })
    }))
}
