import { Context, Data, Deferred, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { encodeFrame, FrameReader, isBadFrame } from "../protocol/Framing.ts"
import type { Request, Response } from "../protocol/Messages.ts"
import { BUILD_ID, VERSION } from "../version.ts"
import { Stats } from "../stats/Stats.ts"
import { Storage } from "../storage/Storage.ts"
import { CompileService } from "./CompileService.ts"
import { lockName } from "../config/SocketPath.ts"

export class DaemonStartError extends Data.TaggedError("DaemonStartError")<{ readonly message: string }> {}

/** Another daemon already owns this socket: not an error, this one just has nothing to do. */
export class AlreadyRunning extends Data.TaggedError("AlreadyRunning")<{}> {}

export interface ServerOptions {
  readonly socket: string
  readonly idleTimeoutSeconds: number
  /** Shown by --show-stats, as sccache does. */
  readonly basedirs: ReadonlyArray<string>
  readonly direct: boolean
  /** The settings given that sccache-ts ignores, named after the cache location in --show-stats. */
  readonly notice?: string
}

const listen = (server: net.Server, where: string) =>
  Effect.callback<void, NodeJS.ErrnoException>((resume) => {
    const onError = (e: NodeJS.ErrnoException) => resume(Effect.fail(e))
    server.once("error", onError)
    server.listen(where, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })

const isRequest = (u: unknown): u is Request =>
  typeof u === "object" && u !== null && typeof (u as { type?: unknown }).type === "string" &&
  typeof (u as { build?: unknown }).build === "string"

/**
 * Serves framed requests on the Unix socket until it is idle for the configured time (never while
 * work is running), asked to stop, or replaced by a newer build.
 */
export class DaemonServer extends Context.Service<DaemonServer, {
  /** Completes when the daemon has stopped serving and all its work is done. */
  readonly run: Effect.Effect<void, DaemonStartError | AlreadyRunning>
}>()("sccache-ts/daemon/DaemonServer") {
  static readonly layer = (opts: ServerOptions) =>
    Layer.effect(DaemonServer, Effect.gen(function*() {
      const compiler = yield* CompileService
      const stats = yield* Stats
      const storage = yield* Storage
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)

      const run = Effect.gen(function*() {
        // The lock is an abstract socket: only one daemon per socket path, and it dies with us.
        const lock = net.createServer((c) => c.destroy())
        const locked = yield* listen(lock, lockName(opts.socket, "daemon")).pipe(Effect.result)
        if (locked._tag === "Failure") {
          if (locked.failure.code === "EADDRINUSE") return yield* new AlreadyRunning()
          return yield* new DaemonStartError({ message: `lock: ${locked.failure.message}` })
        }
        // Holding the lock, any socket file left behind belongs to a daemon that died.
        fs.rmSync(opts.socket, { force: true })
        const done = yield* Deferred.make<void>()
        let active = 0
        let stopping = false
        let idleTimer: NodeJS.Timeout | undefined
        let socketIno = -1

        const server = net.createServer()
        const stop = () => {
          if (stopping) return
          stopping = true
          if (idleTimer !== undefined) clearTimeout(idleTimer)
          // Let a new daemon take over at once; work already accepted still finishes here.
          server.close()
          lock.close()
          try {
            if (fs.statSync(opts.socket).ino === socketIno) fs.rmSync(opts.socket, { force: true })
          } catch { /* already gone */ }
          if (active === 0) Deferred.doneUnsafe(done, Effect.void)
        }
        const armIdle = () => {
          if (idleTimer !== undefined) clearTimeout(idleTimer)
          idleTimer = undefined
          if (opts.idleTimeoutSeconds > 0 && active === 0 && !stopping) {
            idleTimer = setTimeout(stop, opts.idleTimeoutSeconds * 1000)
            idleTimer.unref()
          }
        }
        const track = <A>(effect: Effect.Effect<A>): Promise<A> => {
          active++
          if (idleTimer !== undefined) clearTimeout(idleTimer)
          return new Promise<A>((resolve) => {
            runFork(effect).addObserver((exit) => {
              active--
              if (stopping && active === 0) Deferred.doneUnsafe(done, Effect.void)
              else armIdle()
              if (exit._tag === "Success") resolve(exit.value)
            })
          })
        }

        const respond = (req: Request): Effect.Effect<{ response: Response; background?: Effect.Effect<void> }> => {
          if (req.build !== BUILD_ID) {
            // A client of another build: it will start its own daemon once this one is gone.
            stop()
            return Effect.succeed({ response: { type: "version-mismatch", daemonBuild: BUILD_ID } })
          }
          switch (req.type) {
            case "compile":
              return compiler.compile(req).pipe(Effect.map((outcome) => {
                if (outcome.type === "compiled" && outcome.background !== undefined) {
                  const { background, ...response } = outcome
                  return { response, background }
                }
                return { response: outcome }
              }))
            case "stats":
              return Effect.all([stats.snapshot, storage.size]).pipe(Effect.map(([snapshot, size]) => ({
                response: {
                  type: "stats",
                  stats: {
                    stats: snapshot,
                    cache_location: opts.notice === undefined ? storage.location : `${storage.location} (${opts.notice})`,
                    basedirs: opts.basedirs,
                    use_preprocessor_cache_mode: opts.direct,
                    cache_size: size.current ?? null,
                    max_cache_size: size.max ?? null,
                    version: VERSION,
                    pid: process.pid
                  }
                }
              })))
            case "zero-stats":
              return stats.zero.pipe(Effect.as({ response: { type: "ok" } as Response }))
            case "shutdown":
              return Effect.sync(() => {
                setImmediate(stop)
                return { response: { type: "ok" } as Response }
              })
          }
        }

        server.on("connection", (conn) => {
          const reader = new FrameReader()
          let handled = false
          conn.on("error", () => conn.destroy())
          conn.on("data", (chunk) => {
            if (handled) return
            const frames = reader.push(chunk)
            if (isBadFrame(frames)) return void conn.destroy()
            if (frames.length === 0) return
            handled = true
            const req = frames[0]
            if (!isRequest(req)) {
              conn.end(encodeFrame({ type: "error", message: "malformed request" } satisfies Response))
              return
            }
            void track(respond(req).pipe(
              Effect.flatMap(({ response, background }) =>
                Effect.gen(function*() {
                  yield* Effect.callback<void>((resume) => {
                    if (conn.destroyed) return resume(Effect.void)
                    conn.end(encodeFrame(response), () => resume(Effect.void))
                  })
                  // The reply is out before the cache write starts: the build never waits for storage.
                  if (background !== undefined) yield* background
                })
              ),
              Effect.catchCause((cause) => Effect.logError("request failed", cause))
            ))
          })
        })

        const bound = yield* listen(server, opts.socket).pipe(Effect.result)
        if (bound._tag === "Failure") {
          lock.close()
          return yield* new DaemonStartError({ message: `listen on ${opts.socket}: ${bound.failure.message}` })
        }
        fs.chmodSync(opts.socket, 0o600)
        socketIno = fs.statSync(opts.socket).ino
        process.once("SIGTERM", stop)
        process.once("SIGINT", stop)
        armIdle()
        yield* Effect.logInfo(`sccache-ts ${BUILD_ID} listening on ${opts.socket}`)
        yield* Deferred.await(done)
        yield* Effect.logInfo("sccache-ts daemon stopped")
      })
      return DaemonServer.of({ run })
    }))
}
