import { Cause, Context, Data, Deferred, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { CompileOutcome } from "../cache/Outcome.ts"
import { ClientUmask } from "../compiler/CompilerRunner.ts"
import { encodeFrame, FrameReader, isBadFrame } from "../protocol/Framing.ts"
import type { CompileRequest, Request, Response } from "../protocol/Messages.ts"
import { decodeRequest, requestBuild } from "../protocol/RequestSchema.ts"
import { BUILD_ID, VERSION } from "../version.ts"
import { bump, Stats } from "../stats/Stats.ts"
import { Storage } from "../storage/Storage.ts"
import { Explain } from "../explain/Explain.ts"
import { CompileService } from "./CompileService.ts"
import { inspectSocket, lockName } from "../config/SocketFiles.ts"

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

/** A request is argv, env and a few fields: anything near this is not one (the frame reader refuses it from its header). */
const MAX_REQUEST = 64 << 20

/** The contract's keep-alive period: the client gives up after 10 s without a frame. */
const BUSY_EVERY_MS = 1000

/** Node's timers hold at most 2^31-1 ms (24.8 days): a longer idle timeout waits in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** What the first bytes of a connection were. */
type Received =
  | { readonly _tag: "Frame"; readonly frame: unknown }
  | { readonly _tag: "Bad"; readonly message: string }
  | { readonly _tag: "Closed" }

/**
 * The first frame of a connection. The socket then stays flowing (later bytes are dropped), so
 * the client's end of the connection is seen as soon as it comes.
 */
const receive = (conn: net.Socket) =>
  Effect.callback<Received>((resume) => {
    const reader = new FrameReader(MAX_REQUEST)
    const finish = (r: Received) => {
      conn.off("data", onData)
      conn.off("close", onClose)
      conn.resume()
      resume(Effect.succeed(r))
    }
    const onData = (chunk: Buffer) => {
      const frames = reader.push(chunk)
      if (isBadFrame(frames)) finish({ _tag: "Bad", message: frames.badFrame })
      else if (frames.length > 0) finish({ _tag: "Frame", frame: frames[0] })
    }
    const onClose = () => finish({ _tag: "Closed" })
    if (conn.destroyed) return finish({ _tag: "Closed" })
    conn.on("data", onData)
    conn.on("close", onClose)
    return Effect.sync(() => {
      conn.off("data", onData)
      conn.off("close", onClose)
    })
  })

/**
 * Runs `work` unless the client's end of the connection goes first: then this fiber is interrupted
 * (the compiler's process group is killed, nothing is written). A listener, not a fiber racing it:
 * every request pays for a race, and hardly any client hangs up.
 */
const unlessClosed = <A, E, R>(conn: net.Socket, work: Effect.Effect<A, E, R>): Effect.Effect<A | undefined, E, R> =>
  conn.destroyed
    ? Effect.succeed(undefined)
    : Effect.withFiber((fiber) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          const onClose = () => fiber.interruptUnsafe()
          conn.once("close", onClose)
          return onClose
        }),
        () => work,
        (onClose) => Effect.sync(() => conn.off("close", onClose))
      )
    )

/** Writes one frame and waits until it is flushed or the connection is gone (never longer). */
const send = (conn: net.Socket, message: Response) =>
  Effect.callback<void>((resume) => {
    if (conn.destroyed || !conn.writable) return resume(Effect.void)
    const done = () => {
      conn.off("close", done)
      resume(Effect.void)
    }
    conn.once("close", done)
    conn.write(encodeFrame(message), done)
  })

/**
 * Keep-alive frames while `work` runs: a timer, not a fiber racing it (a hit is over long before
 * the first one is due, and a race costs it two fibers).
 */
const keepingAlive = <A, E, R>(conn: net.Socket, work: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      setInterval(() => {
        if (!conn.destroyed && conn.writable) conn.write(encodeFrame({ type: "busy" } satisfies Response))
      }, BUSY_EVERY_MS)
    ),
    () => work,
    (timer) => Effect.sync(() => clearInterval(timer))
  )

/** The connection as a resource: its release ends it, whatever happened while it was served. */
const connection = (conn: net.Socket) =>
  Effect.acquireRelease(Effect.succeed(conn), (c) => Effect.sync(() => c.destroySoon()))

/** A request's reply, and the work (a cache write) to do once it is sent. */
interface Answer {
  readonly response: Response
  readonly background?: Effect.Effect<void>
}

const LOSSY_REASON = "non-UTF-8 bytes in arguments, environment or working directory"

/** The cache_errors row of a compile that failed inside the daemon. */
const errorLanguage = (req: CompileRequest) => (/^rustc/.test(path.basename(req.exe)) ? "Rust" : "C/C++")

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
      const explain = yield* Explain
      const stats = yield* Stats
      const storage = yield* Storage
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)

      const run = Effect.gen(function*() {
        // The lock is an abstract socket: only one daemon per socket path, and it dies with us.
        const lock = net.createServer((c) => c.destroy())
        const name = yield* Effect.try({ try: () => lockName(opts.socket, "daemon"), catch: (e) => new DaemonStartError({ message: `lock: ${String(e)}` }) })
        const locked = yield* listen(lock, name).pipe(Effect.result)
        if (locked._tag === "Failure") {
          if (locked.failure.code === "EADDRINUSE") return yield* new AlreadyRunning()
          return yield* new DaemonStartError({ message: `lock: ${locked.failure.message}` })
        }
        // Holding the lock, a socket left behind belongs to a daemon that died; anything else at
        // that path (a file, a directory) is not ours to delete.
        const left = inspectSocket(opts.socket)
        if (typeof left === "object") {
          lock.close()
          return yield* new DaemonStartError({ message: left.refused })
        }
        if (left === "ours") fs.rmSync(opts.socket, { force: true })
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
            const deadline = Date.now() + opts.idleTimeoutSeconds * 1000
            const wait = () => {
              const left = deadline - Date.now()
              if (left <= 0) return stop()
              idleTimer = setTimeout(wait, Math.min(left, MAX_TIMER_MS))
              idleTimer.unref()
            }
            wait()
          }
        }
        /** Runs one connection's work, counted so the daemon never idles out or stops under it. */
        const track = (effect: Effect.Effect<void>): void => {
          active++
          if (idleTimer !== undefined) clearTimeout(idleTimer)
          runFork(effect).addObserver(() => {
            active--
            if (stopping && active === 0) Deferred.doneUnsafe(done, Effect.void)
            else armIdle()
          })
        }

        /**
         * A compile's failure boundary: a failure or defect anywhere in it becomes "run it
         * locally" (the client compiles itself), counted as a cache error, its cause logged.
         */
        const compile = (req: CompileRequest): Effect.Effect<CompileOutcome> => {
          if (req.lossy === true) {
            return stats.update((s) => {
              s.compile_requests++
              s.non_cacheable_calls++
              bump(s.not_cached, LOSSY_REASON)
            }).pipe(Effect.as({ type: "run-locally", reason: LOSSY_REASON }))
          }
          return compiler.compile(req).pipe(
            Effect.provideService(ClientUmask, req.umask),
            Effect.catchCause((cause) =>
              Effect.gen(function*() {
                yield* Effect.logError(`compile in ${req.cwd} failed in the daemon; the client compiles it itself`, cause)
                yield* stats.update((s) => void bump(s.cache_errors, errorLanguage(req)))
                return { type: "run-locally", reason: `internal error: ${Cause.squash(cause)}` } as const
              })
            )
          )
        }

        const respond = (req: Request): Effect.Effect<Answer> => {
          switch (req.type) {
            case "compile":
              return compile(req).pipe(Effect.map((outcome) => {
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
            case "explain":
              return explain.explain(req.compile).pipe(Effect.map((lines) => ({ response: { type: "explained", lines } as Response })))
            case "zero-stats":
              return stats.zero.pipe(Effect.as({ response: { type: "ok" } as Response }))
            case "shutdown":
              return Effect.sync(() => {
                setImmediate(stop)
                return { response: { type: "ok" } as Response }
              })
          }
        }

        /**
         * One connection, start to end: every request gets an answer and its connection is closed.
         * A client that goes away before the answer cancels its request (the compiler's process
         * group is killed; nothing is written at its outputs). Gives the work to do once the
         * connection is closed (a cache write).
         */
        const exchange = (conn: net.Socket) =>
          Effect.gen(function*() {
            yield* connection(conn)
            const received = yield* receive(conn)
            if (received._tag === "Closed") return undefined
            if (received._tag === "Bad") {
              yield* Effect.logWarning(`refused a request: ${received.message}`)
              return yield* send(conn, { type: "error", message: `malformed request: ${received.message}` })
            }
            const build = requestBuild(received.frame)
            if (build !== undefined && build !== BUILD_ID) {
              // A client of another build: it will start its own daemon once this one is gone.
              stop()
              return yield* send(conn, { type: "version-mismatch", daemonBuild: BUILD_ID })
            }
            const req = decodeRequest(received.frame)
            if ("malformed" in req) {
              yield* Effect.logWarning(`refused a malformed request: ${req.malformed}`)
              return yield* send(conn, { type: "error", message: `malformed request: ${req.malformed}` })
            }
            const answer = yield* respond(req).pipe(
              Effect.catchCause((cause) =>
                Effect.logError(`${req.type} request failed`, cause).pipe(
                  Effect.as<Answer>({ response: { type: "error", message: `${req.type} failed: ${Cause.squash(cause)}` } })
                )
              ),
              (work) => keepingAlive(conn, work),
              (work) => unlessClosed(conn, work),
              Effect.onInterrupt(() => Effect.logInfo(`${req.type} request cancelled: the client went away`))
            )
            if (answer === undefined) return yield* Effect.logInfo(`${req.type} request not served: the client was gone`)
            yield* send(conn, answer.response)
            return answer.background
          }).pipe(Effect.scoped)

        const serve = (conn: net.Socket) =>
          exchange(conn).pipe(
            // The reply is out and the connection closed before the cache write starts: the build never waits for storage.
            Effect.flatMap((background) => background ?? Effect.void),
            Effect.catchCause((cause) => Effect.logError("request failed", cause))
          )

        server.on("connection", (conn) => {
          conn.on("error", () => conn.destroy())
          track(serve(conn))
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
