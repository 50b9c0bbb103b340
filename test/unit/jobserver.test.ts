/**
 * The jobserver: parsing and rewriting what make and cargo advertise (pure, property-tested), and
 * the service on real FIFOs: its pool's limit, tokens coming back whatever happens, a make job's
 * implicit token, and a jobserver inherited from a make that then exits.
 */
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect } from "vitest"
import { Jobserver } from "../../src/jobserver/Jobserver.ts"
import { advertiseJobserver, jobserverAuth } from "../../src/jobserver/JobserverAuth.ts"
import { reachableJobserver } from "../../src/jobserver/JobserverProc.ts"
import type { CompileRequest } from "../../src/protocol/Messages.ts"

const request = (env: Record<string, string>, pid?: number): CompileRequest => ({
  type: "compile",
  build: "test",
  exe: "/usr/bin/cc",
  args: [],
  cwd: "/",
  env,
  umask: 0o022,
  ...(pid === undefined ? {} : { pid })
})

describe("jobserverAuth", () => {
  it("reads cargo's and make's spellings", () => {
    expect(jobserverAuth({ CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7 --jobserver-auth=6,7" })).toEqual({ _tag: "Fds", read: 6, write: 7 })
    expect(jobserverAuth({ MAKEFLAGS: " -j4 --jobserver-auth=fifo:/tmp/GMfifo1" })).toEqual({ _tag: "Fifo", path: "/tmp/GMfifo1" })
    expect(jobserverAuth({ MFLAGS: "-j --jobserver-fds=3,4" })).toEqual({ _tag: "Fds", read: 3, write: 4 })
  })
  it("takes CARGO_MAKEFLAGS first and the last flag within a variable", () => {
    expect(jobserverAuth({ MAKEFLAGS: "--jobserver-auth=3,4", CARGO_MAKEFLAGS: "--jobserver-auth=8,9" })).toEqual({ _tag: "Fds", read: 8, write: 9 })
    expect(jobserverAuth({ MAKEFLAGS: "--jobserver-auth=3,4 --jobserver-auth=5,6" })).toEqual({ _tag: "Fds", read: 5, write: 6 })
  })
  it("finds none in -j alone, other flags or malformed values", () => {
    for (const flags of ["-j", "-j4 -k", "--jobserver-auth=", "--jobserver-auth=fifo:", "--jobserver-auth=3", "x--jobserver-auth=3,4"]) {
      expect(jobserverAuth({ MAKEFLAGS: flags })).toBeUndefined()
    }
    expect(jobserverAuth({})).toBeUndefined()
  })
})

describe("advertiseJobserver", () => {
  it("points every advertising variable at the FIFO, keeping the other flags", () => {
    const env = advertiseJobserver({ CARGO_MAKEFLAGS: "-j --jobserver-fds=6,7 --jobserver-auth=6,7", MAKEFLAGS: "-k -j2 --jobserver-auth=3,4 -- X=1", PATH: "/bin" }, "/proc/9/fd/6")
    expect(env).toEqual({
      CARGO_MAKEFLAGS: "-j --jobserver-auth=fifo:/proc/9/fd/6",
      MAKEFLAGS: "-k -j2 --jobserver-auth=fifo:/proc/9/fd/6 -- X=1",
      PATH: "/bin"
    })
    expect(jobserverAuth(env)).toEqual({ _tag: "Fifo", path: "/proc/9/fd/6" })
  })
  it("removes a jobserver nobody can reach rather than hand out dead descriptors", () => {
    expect(advertiseJobserver({ MAKEFLAGS: "-j2 --jobserver-auth=3,4" }, undefined)).toEqual({ MAKEFLAGS: "-j2" })
  })
  it("gives a client that advertised nothing the daemon's, for rustc", () => {
    expect(advertiseJobserver({ PATH: "/bin" }, "/proc/9/fd/5")).toEqual({ PATH: "/bin", CARGO_MAKEFLAGS: "-j --jobserver-auth=fifo:/proc/9/fd/5" })
    expect(advertiseJobserver({ PATH: "/bin" }, undefined)).toEqual({ PATH: "/bin" })
  })

  const Flags = Schema.Array(Schema.Literals(["-j", "-j2", "-k", "--jobserver-auth=3,4", "--jobserver-fds=3,4", "--jobserver-auth=fifo:/a", "s", "--"]))
  it.prop("never leaves a descriptor a child doesn't have", [Flags, Flags, Schema.Boolean], ([make, cargo, fifo]) => {
    const env = advertiseJobserver({ MAKEFLAGS: make.join(" "), CARGO_MAKEFLAGS: cargo.join(" ") }, fifo ? "/proc/1/fd/9" : undefined)
    for (const v of [env["MAKEFLAGS"], env["CARGO_MAKEFLAGS"]]) {
      expect(v ?? "").not.toMatch(/--jobserver-(auth=\d|fds)/)
      if (!fifo) expect(v ?? "").not.toContain("--jobserver")
    }
    const auth = jobserverAuth(env)
    expect(auth === undefined ? undefined : auth._tag).toBe(fifo ? "Fifo" : undefined)
  }, { arbitrary: { runs: 200 } })
})

/** How many of `n` copies of a 40 ms job ran at once through `withToken`. */
const peak = (n: number, job: (e: Effect.Effect<void>) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    let running = 0
    let max = 0
    const one = Effect.sync(() => void (max = Math.max(max, ++running))).pipe(
      Effect.andThen(Effect.sleep(40)),
      Effect.ensuring(Effect.sync(() => void running--))
    )
    yield* Effect.all(Array.from({ length: n }, () => job(one)), { concurrency: "unbounded" })
    return max
  })

describe("Jobserver service", () => {
  it.live("runs at most its pool's size of tokened work at once, and really that many", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobserver
      expect(yield* peak(7, jobs.withToken)).toBe(3)
    }).pipe(Effect.provide(Jobserver.pool(3), { local: true })))

  it.live("gets every token back after failures, defects and interruptions", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobserver
      for (let i = 0; i < 3; i++) {
        yield* jobs.withToken(Effect.fail("broken")).pipe(Effect.ignore)
        yield* jobs.withToken(Effect.die("defect")).pipe(Effect.exit)
        const holder = yield* Effect.forkChild(jobs.withToken(Effect.never))
        // One waiting while the other holds the only remaining token, then both interrupted.
        const waiter = yield* Effect.forkChild(jobs.withToken(Effect.never))
        yield* Effect.sleep(30)
        yield* Fiber.interrupt(holder)
        yield* Fiber.interrupt(waiter)
      }
      expect(yield* peak(4, jobs.withToken).pipe(Effect.timeout("2 seconds"))).toBe(2)
    }).pipe(Effect.provide(Jobserver.pool(2), { local: true })))

  it.live("runs a make job's compile on its own token, even with every pool token out", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobserver
      const release = yield* Deferred.make<void>()
      const holders = yield* Effect.forkChild(Effect.all([1, 2].map(() => jobs.withToken(Deferred.await(release))), { concurrency: 2 }))
      yield* Effect.sleep(30)
      const makeJob = request({ MAKEFLAGS: "-j4 --jobserver-auth=3,4" })
      const ran = yield* jobs.serve(makeJob, () => jobs.withToken(Effect.succeed("ran"))).pipe(Effect.timeout("1 second"))
      expect(ran).toBe("ran")
      // Two make jobs at once (make -j2) both run now, still with the pool exhausted.
      expect(yield* peak(2, (e) => jobs.serve(makeJob, () => jobs.withToken(e)))).toBe(2)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holders)
    }).pipe(Effect.provide(Jobserver.pool(2), { local: true })))

  it.live("gives compilers of a client without a jobserver the pool's FIFO, holding its tokens", () =>
    Effect.gen(function*() {
      const jobs = yield* Jobserver
      const env = yield* jobs.serve(request({ PATH: "/bin" }), (req) => Effect.succeed(req.env))
      const auth = jobserverAuth(env)
      expect(auth?._tag).toBe("Fifo")
      const fifo = (auth as { path: string }).path
      expect(fs.statSync(fifo).isFIFO()).toBe(true)
      // What a compiler would do: open it and find the tokens there.
      const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK)
      const buf = Buffer.alloc(8)
      expect(fs.readSync(fd, buf, 0, 8, null)).toBe(2)
      fs.writeSync(fd, buf.subarray(0, 2))
      fs.closeSync(fd)
    }).pipe(Effect.provide(Jobserver.pool(2), { local: true })))
})

/**
 * A stand-in for make and its job: a shell holding a FIFO with `tokens` tokens at fds 7 and 8 (as
 * make holds its pipe), whose child (the job) inherits them.
 */
const children: Array<ChildProcess> = []
const dirs: Array<string> = []
afterAll(() => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, "SIGKILL")
    } catch { /* already gone */ }
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})
const fakeMake = (tokens: number) =>
  Effect.promise(() => new Promise<{ job: number; make: ChildProcess }>((resolve) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-js-"))
    dirs.push(dir)
    const fifo = path.join(dir, "jobserver")
    spawnSync("mkfifo", [fifo])
    const make = spawn("bash", ["-c", `exec 7<>"$1" 8<>"$1"; printf '%${tokens}s' '' | tr ' ' + >&8; sleep 60 & echo $!; wait`, "fake-make", fifo], {
      stdio: ["ignore", "pipe", "inherit"],
      detached: true
    })
    children.push(make)
    make.unref()
    make.stdout.once("data", (b: Buffer) => {
      make.stdout.destroy()
      resolve({ job: Number(b.toString().trim()), make })
    })
  }))

describe("a jobserver from make", () => {
  it.live("is reachable through a job whose parent holds it, and not through a process that merely names it", () =>
    Effect.gen(function*() {
      const { job } = yield* fakeMake(1)
      expect(reachableJobserver({ _tag: "Fds", read: 7, write: 8 }, job)).toBe(`/proc/${job}/fd/7`)
      expect(reachableJobserver({ _tag: "Fds", read: 7, write: 8 }, process.pid)).toBeUndefined()
      expect(reachableJobserver({ _tag: "Fds", read: 70, write: 80 }, job)).toBeUndefined()
    }))

  it.live("is what a make job's compilers get", () =>
    Effect.gen(function*() {
      const { job } = yield* fakeMake(1)
      const jobs = yield* Jobserver
      const env = yield* jobs.serve(request({ MAKEFLAGS: "-j2 --jobserver-auth=7,8" }, job), (req) => Effect.succeed(req.env))
      expect(env["MAKEFLAGS"]).toBe(`-j2 --jobserver-auth=fifo:/proc/${job}/fd/7`)
    }).pipe(Effect.provide(Jobserver.pool(2), { local: true })))

  it.live("is the daemon's pool while its make runs, then the daemon's own", () =>
    Effect.gen(function*() {
      const { job, make } = yield* fakeMake(1)
      const daemonLayer = Jobserver.fromEnv({ MAKEFLAGS: "-j2 --jobserver-auth=7,8" }, job)
      yield* Effect.gen(function*() {
        const jobs = yield* Jobserver
        // One token in make's pipe: one compile at a time, though the machine may have more CPUs.
        expect(yield* peak(3, jobs.withToken)).toBe(1)
        // Every token out (held by make's other jobs, say), then make exits: waiters go on.
        const holder = yield* Effect.forkChild(jobs.withToken(Effect.never))
        yield* Effect.sleep(30)
        const waiter = yield* Effect.forkChild(jobs.withToken(Effect.succeed("ran")))
        yield* Effect.sleep(50)
        make.kill("SIGKILL")
        expect(yield* Fiber.join(waiter).pipe(Effect.timeout("2 seconds"))).toBe("ran")
        yield* Fiber.interrupt(holder)
        expect(yield* peak(4, jobs.withToken)).toBe(Math.min(4, os.availableParallelism()))
      }).pipe(Effect.provide(daemonLayer, { local: true }))
    }))
})

it.live("builds the daemon's own jobserver from an environment without one", () =>
  Effect.gen(function*() {
    const jobs = yield* Jobserver
    expect(yield* peak(4, jobs.withToken)).toBe(Math.min(4, os.availableParallelism()))
  }).pipe(Effect.provide(Jobserver.fromEnv({}, process.ppid), { local: true })))
