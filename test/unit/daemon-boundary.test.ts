/**
 * The daemon's failure boundary, on its real socket server with a scripted CompileService: every
 * request is answered and its connection closed, whatever the compile does.
 */
import { Deferred, Effect, Layer, ManagedRuntime } from "effect"
import { Explain } from "../../src/explain/Explain.ts"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type CompileOutcome, runLocally } from "../../src/cache/Outcome.ts"
import { ClientUmask } from "../../src/compiler/CompilerRunner.ts"
import { CompileService } from "../../src/daemon/CompileService.ts"
import { DaemonServer } from "../../src/daemon/DaemonServer.ts"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"
import type { CompileRequest } from "../../src/protocol/Messages.ts"
import { Stats } from "../../src/stats/Stats.ts"
import { Storage } from "../../src/storage/Storage.ts"
import { BUILD_ID } from "../../src/version.ts"

const NoStorage = Layer.succeed(Storage, Storage.of({
  location: "none",
  get: () => Effect.succeed(undefined),
  put: () => Effect.void,
  check: Effect.succeed("read-only"),
  size: Effect.succeed({})
}))

const compileRequest = (extra: Partial<CompileRequest> = {}): CompileRequest => ({
  type: "compile",
  build: BUILD_ID,
  exe: "/usr/bin/gcc",
  args: ["-c", "a.c"],
  cwd: "/tmp",
  env: {},
  umask: 0o27,
  ...extra
})

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
})

/** A daemon on a private socket whose compiles are `compile`. */
const startDaemon = async (compile: (req: CompileRequest) => Effect.Effect<CompileOutcome>) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-boundary-"))
  const socket = path.join(dir, "d.sock")
  const layer = DaemonServer.layer({ socket, idleTimeoutSeconds: 0, basedirs: [], direct: true }).pipe(
    Layer.provideMerge(Layer.mergeAll(Layer.succeed(CompileService, CompileService.of({ compile })), Explain.degraded("no explanations here"), Stats.layer, NoStorage))
  )
  const runtime = ManagedRuntime.make(layer)
  const done = runtime.runPromise(DaemonServer.use((s) => s.run))
  while (!fs.existsSync(socket)) await new Promise((r) => setTimeout(r, 10))
  stops.push(async () => {
    await talk(socket, { type: "shutdown", build: BUILD_ID })
    await done
    await runtime.dispose()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return { socket, stats: () => runtime.runPromise(Stats.use((s) => s.snapshot)) }
}

/** Sends `request` (a frame, or raw bytes) and collects every frame until the daemon closes the connection. */
const talk = (socket: string, request: unknown, opts: { readonly hangUpAfterMs?: number } = {}) =>
  new Promise<Array<{ type: string; [k: string]: unknown }>>((resolve, reject) => {
    const frames: Array<{ type: string }> = []
    const reader = new FrameReader()
    const conn = net.createConnection(socket, () => {
      conn.write(Buffer.isBuffer(request) ? request : encodeFrame(request))
      if (opts.hangUpAfterMs !== undefined) setTimeout(() => conn.destroy(), opts.hangUpAfterMs)
    })
    conn.on("data", (chunk) => {
      const got = reader.push(chunk)
      if (isBadFrame(got)) reject(new Error(got.badFrame))
      else frames.push(...(got as Array<{ type: string }>))
    })
    conn.on("error", reject)
    conn.on("close", () => resolve(frames))
  })

describe("the daemon's failure boundary", () => {
  it("answers a compile that dies of a defect with run-locally, counts a cache error and closes", async () => {
    const d = await startDaemon(() => Effect.sync(() => {
      throw new Error("ELOOP: too many symbolic links")
    }))
    const frames = await talk(d.socket, compileRequest())
    expect(frames).toHaveLength(1)
    expect(frames[0]).toMatchObject({ type: "run-locally" })
    expect(String(frames[0]!["reason"])).toMatch(/ELOOP/)
    expect((await d.stats()).cache_errors).toEqual({ "C/C++": 1 })
    // And it still serves the next request.
    expect(await talk(d.socket, { type: "zero-stats", build: BUILD_ID })).toEqual([{ type: "ok" }])
  })

  it("refuses a compile request without env, clearly, without running it", async () => {
    let ran = 0
    const d = await startDaemon(() => Effect.sync(() => (ran++, runLocally("ran"))))
    const { env: _, ...noEnv } = compileRequest()
    const frames = await talk(d.socket, noEnv)
    expect(frames).toHaveLength(1)
    expect(frames[0]!.type).toBe("error")
    expect(String(frames[0]!["message"])).toMatch(/^malformed request: .*env/s)
    // Bytes that are not frames at all.
    const junk = await talk(d.socket, Buffer.from("\x00\x00\x00\x05hello"))
    expect(junk).toEqual([expect.objectContaining({ type: "error" })])
    expect(ran).toBe(0)
  })

  it("sends a keep-alive every second while a compile runs, then the answer", async () => {
    const d = await startDaemon(() => Effect.sleep("2500 millis").pipe(Effect.as(runLocally("slow"))))
    const frames = await talk(d.socket, compileRequest())
    expect(frames.map((f) => f.type)).toEqual(["busy", "busy", "run-locally"])
  })

  it("interrupts the compile when the client hangs up, and answers nothing", async () => {
    const interrupted = Deferred.makeUnsafe<void>()
    const d = await startDaemon(() =>
      Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)), Effect.as(runLocally("never")))
    )
    const frames = await talk(d.socket, compileRequest(), { hangUpAfterMs: 300 })
    expect(frames).toEqual([])
    await Effect.runPromise(Deferred.await(interrupted))
    expect((await d.stats()).cache_errors).toEqual({})
  }, 60_000)

  it("answers a lossy request with run-locally, counted as not cacheable, without compiling", async () => {
    let ran = 0
    const d = await startDaemon(() => Effect.sync(() => (ran++, runLocally("ran"))))
    const frames = await talk(d.socket, compileRequest({ lossy: true }))
    expect(frames).toEqual([{ type: "run-locally", reason: expect.stringMatching(/non-UTF-8/) }])
    const s = await d.stats()
    expect(s.non_cacheable_calls).toBe(1)
    expect(Object.keys(s.not_cached)[0]).toMatch(/non-UTF-8/)
    expect(ran).toBe(0)
  })

  it("runs the compile with the client's umask in context", async () => {
    const d = await startDaemon(() => Effect.gen(function*() {
      return runLocally(`umask ${yield* ClientUmask}`)
    }))
    expect(await talk(d.socket, compileRequest({ umask: 0o77 }))).toEqual([{ type: "run-locally", reason: `umask ${0o77}` }])
  })
})
