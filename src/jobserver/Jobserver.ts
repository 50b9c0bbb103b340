import { Context, Deferred, Effect, Layer, type Scope, Semaphore } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Env } from "../config/Config.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { advertiseJobserver, jobserverAuth } from "./JobserverAuth.ts"
import { jobserverLiveness, reachableJobserver } from "./JobserverProc.ts"

/** Set while serving a make or cargo job: the client already holds a token for this compile. */
const ClientHoldsToken = Context.Reference<boolean>("sccache-ts/jobserver/ClientHoldsToken", { defaultValue: () => false })

/** Where the daemon takes tokens for compiles whose clients bring none. */
interface Pool {
  readonly withToken: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A path the daemon's compilers can open to share the pool (`--jobserver-auth=fifo:PATH`), if any. */
  readonly fifo: () => string | undefined
  /** Brackets work whose compilers were given `fifo()`: they may hold tokens of the pool. */
  readonly using: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** Our own description of a jobserver: non-blocking, so waiting for a token never blocks a thread. */
const openJobserver = (file: string, access: number): number | undefined => {
  try {
    const fd = fs.openSync(file, access | fs.constants.O_NONBLOCK)
    if (fs.fstatSync(fd).isFIFO()) return fd
    fs.closeSync(fd)
  } catch { /* not reachable after all */ }
  return undefined
}

/**
 * A FIFO holding `tokens` tokens, unlinked at once: children reach it through /proc. Node has no
 * mkfifo: the command runs as a child, without blocking (it takes tens of milliseconds on a busy
 * machine, which a daemon's start should not wait for).
 */
const makeFifo = (tokens: number) =>
  Effect.callback<number | undefined>((resume) => {
    let dir: string
    try {
      // An unwritable TMPDIR means the in-process pool, not a daemon that can't start.
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "sccache-ts-jobserver-"))
    } catch {
      return resume(Effect.succeed(undefined))
    }
    const file = path.join(dir, "fifo")
    execFile("mkfifo", ["-m", "600", file], (error) => {
      let fd: number | undefined
      try {
        fd = error === null ? openJobserver(file, fs.constants.O_RDWR) : undefined
        if (fd !== undefined) fs.writeSync(fd, Buffer.alloc(tokens, "+"))
      } catch {
        if (fd !== undefined) fs.closeSync(fd)
        fd = undefined
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
      resume(Effect.succeed(fd))
    })
  })

const closing = (fd: number) => Effect.acquireRelease(Effect.succeed(fd), () => Effect.sync(() => fs.closeSync(fd)))

/** Not tokens: none there now; the jobserver can't be read; nobody can write to it any more (its make has exited). */
const EMPTY = -1
const BROKEN = -2
const GONE = -3

/**
 * The token bytes of a jobserver FIFO or pipe we hold open as `fd`. Tokens go back through `fd`
 * when we may write to it, else through a description opened for the write only: make, on exit,
 * reads its pipe until no writer is left, and must not wait for a daemon that outlives it.
 */
const fifoTokens = (fd: number, writable: boolean) => {
  const byte = Buffer.alloc(1)
  const path = `/proc/${process.pid}/fd/${fd}`
  const take = (): number => {
    try {
      const n = fs.readSync(fd, byte, 0, 1, null)
      return n === 1 ? byte[0]! : GONE
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EAGAIN" ? EMPTY : BROKEN
    }
  }
  const spill = Buffer.alloc(4096)
  /** Reads what is there, up to 4 KiB: how many bytes (0 when there were none). */
  const drain = (): number => {
    try {
      return fs.readSync(fd, spill, 0, spill.length, null)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") return 0
      throw e
    }
  }
  const write = (data: Buffer) => {
    if (writable) return void fs.writeSync(fd, data)
    const w = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
    try {
      fs.writeSync(w, data)
    } finally {
      fs.closeSync(w)
    }
  }
  return {
    path,
    take,
    give: (token: number) =>
      Effect.sync(() => {
        if (token < 0) return
        try {
          write(Buffer.from([token]))
        } catch { /* the jobserver is gone: nobody is left to wait for the token */ }
      }),
    /** Back to `tokens`, whatever compilers that died holding some took with them. */
    refill: (tokens: number) => {
      try {
        // One read drains it (a pool holds a few bytes): no second read to see EAGAIN, an exception.
        while (drain() === spill.length) { /* a pipe's worth: there may be more */ }
        write(Buffer.alloc(tokens, "+"))
      } catch { /* left as it is */ }
    }
  }
}

/**
 * Waits for a token. A read never blocks (a waiter polls, backing off to 20 ms), so a waiter can
 * be interrupted at any time without having taken one. A jobserver that breaks, or whose make
 * has exited, ends the wait with no token rather than hang the build.
 */
const acquire = (take: () => number, gone: () => boolean) =>
  Effect.gen(function*() {
    for (let pause = 1;; pause = Math.min(pause * 2, 20)) {
      const token = take()
      if (token === BROKEN) yield* Effect.logWarning("jobserver unreadable: compiling without a token")
      if (token !== EMPTY) return token
      if (gone()) return GONE
      yield* Effect.interruptible(Effect.sleep(pause))
    }
  })

/**
 * The daemon's own jobserver: a FIFO with `slots` tokens that its compilers share. A token taken
 * is written back however the work ends; whenever nothing of ours runs, the FIFO is refilled, so
 * a compiler killed while holding tokens can't shrink the pool for good.
 */
const ownFifoPool = (fd: number, slots: number): Pool => {
  const tokens = fifoTokens(fd, true)
  let users = 0
  const using = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(Effect.sync(() => void users++), () => effect, () =>
      Effect.sync(() => {
        if (--users === 0) tokens.refill(slots)
      }))
  return {
    fifo: () => tokens.path,
    using,
    withToken: (effect) => using(Effect.acquireUseRelease(acquire(tokens.take, () => false), () => effect, tokens.give))
  }
}

/** Without mkfifo: an in-process pool, which compilers can't share. */
const semaphorePool = (slots: number) =>
  Semaphore.make(slots).pipe(Effect.map((sem): Pool => ({
    fifo: () => undefined,
    using: (effect) => effect,
    withToken: (effect) => sem.withPermits(1)(effect)
  })))

const ownPool = (slots: number) =>
  makeFifo(slots).pipe(Effect.flatMap((fd) => (fd === undefined ? semaphorePool(slots) : closing(fd).pipe(Effect.map((fd) => ownFifoPool(fd, slots))))))

/**
 * `pool`, made in the background of the layer's scope: the daemon starts listening meanwhile, and
 * a request waits for the pool (never runs without it) only if it comes first.
 */
const inBackground = (pool: Effect.Effect<Pool, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<Pool>()
    // Started at once: its mkfifo child then runs while the rest of the daemon starts, not after.
    yield* Effect.forkScoped(pool.pipe(Effect.flatMap((p) => Deferred.succeed(ready, p))), { startImmediately: true })
    return Deferred.await(ready)
  })

/** The jobserver of the make that started the daemon, while that make runs; then the daemon's own. */
const inheritedPool = (fd: number, alive: () => boolean, own: Pool): Pool => {
  const tokens = fifoTokens(fd, false)
  return {
    fifo: () => (alive() ? tokens.path : own.fifo()),
    using: own.using,
    withToken: (effect) =>
      Effect.suspend(() =>
        alive()
          ? Effect.acquireUseRelease(
            acquire(tokens.take, () => !alive()),
            (token) => (token === GONE ? own.withToken(effect) : effect),
            tokens.give
          )
          : own.withToken(effect)
      )
  }
}

const make = (pool: Effect.Effect<Pool>) =>
  Jobserver.of({
    withToken: (effect) =>
      Effect.gen(function*() {
        return (yield* ClientHoldsToken) ? yield* effect : yield* (yield* pool).withToken(effect)
      }),
    serve: (req, f) =>
      Effect.flatMap(pool, (pool) => {
        const auth = jobserverAuth(req.env)
        const clients = auth !== undefined && req.pid !== undefined ? reachableJobserver(auth, req.pid) : undefined
        const run = f({ ...req, env: advertiseJobserver(req.env, clients ?? pool.fifo()) })
        // A make or cargo job runs its compile on the token it holds, even when its jobserver is closed to us.
        const tokened = auth === undefined ? run : Effect.provideService(run, ClientHoldsToken, true)
        return clients === undefined ? pool.using(tokened) : tokened
      })
  })

/**
 * The GNU make jobserver of the daemon. A compile whose client is a make or cargo job runs at once,
 * on that job's token; other compiles take one of the daemon's tokens. The compilers the daemon
 * spawns get a jobserver they can open for their own parallelism (rustc's codegen): the client's,
 * else the daemon's.
 */
export class Jobserver extends Context.Service<Jobserver, {
  /** Runs a compiler holding a token: the client's own when it brought one, else one of the pool's. */
  readonly withToken: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Serves one request: `f` gets it with an environment that gives its compilers a working jobserver. */
  readonly serve: <A, E, R>(req: CompileRequest, f: (req: CompileRequest) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>()("sccache-ts/jobserver/Jobserver") {
  /** A pool of its own with `slots` tokens. */
  static readonly pool = (slots: number) => Layer.effect(Jobserver, inBackground(ownPool(slots)).pipe(Effect.map(make)))

  /**
   * The jobserver of the daemon's environment while it works (a daemon started from a make job;
   * `starter` is the process that started it, which holds the descriptors), else one token per CPU.
   */
  static readonly fromEnv = (env: Env, starter: number) =>
    Layer.effect(Jobserver, Effect.gen(function*() {
      // The starter's descriptors are looked at now, while it waits for us: it may be gone later.
      const auth = jobserverAuth(env)
      const file = auth === undefined ? undefined : reachableJobserver(auth, starter)
      const fd = file === undefined ? undefined : openJobserver(file, fs.constants.O_RDONLY)
      const inherited = auth === undefined || fd === undefined ? undefined : {
        fd: yield* closing(fd),
        alive: jobserverLiveness(auth, starter)
      }
      if (inherited !== undefined) yield* Effect.logInfo(`using the jobserver of the environment (${file}) while its make runs`)
      const own = ownPool(Math.max(1, os.availableParallelism()))
      return make(yield* inBackground(
        inherited === undefined ? own : own.pipe(Effect.map((own) => inheritedPool(inherited.fd, inherited.alive, own)))
      ))
    }))
}
