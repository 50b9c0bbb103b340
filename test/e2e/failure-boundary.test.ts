/**
 * The daemon's failure boundary with the built binary and real gcc: a client that goes away
 * cancels its compile, malformed requests are answered, long compiles send keep-alives, a
 * compiler's signal death is reported, and a huge idle timeout keeps the daemon up.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { encodeFrame, FrameReader, isBadFrame } from "../../src/protocol/Framing.ts"
import { BIN, run, type Sandbox, sandboxesPerTest, total } from "../support/harness.ts"

const sandbox = sandboxesPerTest()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every frame the daemon sends for `request`, until it closes the connection. */
const talk = (socket: string, request: unknown) =>
  new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    const frames: Array<Record<string, unknown>> = []
    const reader = new FrameReader()
    const conn = net.createConnection(socket, () => conn.write(encodeFrame(request)))
    conn.on("data", (chunk) => {
      const got = reader.push(chunk)
      if (isBadFrame(got)) reject(new Error(got.badFrame))
      else frames.push(...(got as Array<Record<string, unknown>>))
    })
    conn.on("error", reject)
    conn.on("close", () => resolve(frames))
  })

/**
 * The running build's id, as its daemon reports it to a client of another build (that daemon
 * then steps aside; the next compile starts a new one).
 */
const buildId = async (sb: Sandbox): Promise<string> => {
  sb.sccache(["--start-server"])
  const [reply] = await talk(sb.socket, { type: "stats", build: "0.0.0+another" })
  expect(reply).toMatchObject({ type: "version-mismatch" })
  for (let i = 0; i < 200 && fs.existsSync(sb.socket); i++) await sleep(20)
  sb.sccache(["--start-server"])
  return reply!["daemonBuild"] as string
}

const compileRequest = (sb: Sandbox, build: string, exe: string, args: ReadonlyArray<string>) => ({
  type: "compile",
  build,
  exe,
  args,
  cwd: sb.dir,
  env: sb.env as Record<string, string>,
  umask: 0o22
})

/** Processes whose working directory is `dir` (the compiler and its cc1/as). */
const processesIn = (dir: string): Array<string> =>
  fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      if (fs.readlinkSync(`/proc/${pid}/cwd`) !== dir) return []
      return [fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()]
    } catch {
      return []
    }
  })

const waitUntil = async (what: () => boolean, tries = 1200) => {
  for (let i = 0; i < tries && !what(); i++) await sleep(50)
  return what()
}

describe("a client that goes away", () => {
  // The fault-injection run's finding: ^C during a miss, the source edited 0.5 s later, and make
  // trusted the object the daemon wrote after the edit.
  it("^C during a miss cancels the compile: nothing is written, and the next make rebuilds", async () => {
    const sb = sandbox()
    const fns = Array.from({ length: 1500 }, (_, i) => `int f${i}(int x) { int s = 0; for (int j = 0; j < x; j++) s += (j * ${i}) ^ (s >> 3); return s; }`)
    const source = (marker: string) => `${fns.join("\n")}\nint ${marker}(void) { return 1; }\n`
    sb.write("big.c", source("marker_before"))
    sb.write("Makefile", `big.o: big.c\n\t${BIN} gcc -O2 -c big.c -o big.o\n`)
    const make = spawn("make", [], { cwd: sb.dir, env: sb.env, detached: true, stdio: "ignore" })
    const exited = new Promise((r) => make.on("exit", r))
    // The daemon is compiling: its cc1 runs in the build directory.
    expect(await waitUntil(() => processesIn(sb.dir).includes("cc1"))).toBe(true)
    process.kill(-make.pid!, "SIGINT")
    await exited
    await sleep(500)
    sb.write("big.c", source("marker_after"))
    // Whatever the daemon still runs for the cancelled compile ends, and leaves no object.
    expect(await waitUntil(() => processesIn(sb.dir).length === 0)).toBe(true)
    await sleep(1000)
    expect(fs.existsSync(path.join(sb.dir, "big.o"))).toBe(false)
    const again = run("make", [], { cwd: sb.dir, env: sb.env })
    expect(again.code).toBe(0)
    const obj = fs.readFileSync(path.join(sb.dir, "big.o"), "latin1")
    expect(obj.includes("marker_after")).toBe(true)
    expect(obj.includes("marker_before")).toBe(false)
  }, 180_000)
})

describe("a client that goes away from a compiler that won't stop", () => {
  it("the compiler is killed after its grace, and depend mode's own dependency file is removed", async () => {
    // A temporary directory of its own: what the daemon's depend mode puts there must be gone after.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sct-tmp-"))
    const sb = sandbox({ TMPDIR: tmp })
    sb.write("a.c", "int a;\n")
    // Writes the dependency file it is asked for, then ignores SIGTERM (gcc itself removes it when stopped).
    const stubborn = sb.write("stubborncc", `#!/bin/sh
case " $* " in
  *" -c "*)
    mf=$(printf '%s\\n' "$@" | sed -n '/^-MF$/{n;p;}')
    [ -n "$mf" ] && echo "a.o: a.c" > "$mf"
    trap '' TERM
    touch started
    while :; do sleep 0.1; done ;;
esac
exec gcc "$@"
`)
    fs.chmodSync(stubborn, 0o755)
    const client = spawn(BIN, [stubborn, "-c", "a.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env, stdio: "ignore" })
    const exited = new Promise((r) => client.on("exit", r))
    expect(await waitUntil(() => fs.existsSync(path.join(sb.dir, "started")))).toBe(true)
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith(".tmp-sccache-ts-") && f.endsWith(".d"))).toHaveLength(1)
    client.kill("SIGKILL")
    await exited
    // SIGTERM, 2 s of grace, SIGKILL: then nothing of the compile is left, in the build or in TMPDIR.
    expect(await waitUntil(() => processesIn(sb.dir).length === 0)).toBe(true)
    expect(await waitUntil(() => fs.readdirSync(tmp).every((f) => !f.startsWith(".tmp-sccache-ts-")), 200)).toBe(true)
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(false)
  }, 60_000)
})

describe("requests the daemon must not trust", () => {
  it("a compile request without env gets a clear error, and the daemon serves on", async () => {
    const sb = sandbox()
    sb.write("a.c", "int a;\n")
    const build = await buildId(sb)
    const { env: _, ...noEnv } = compileRequest(sb, build, "/usr/bin/gcc", ["-c", "a.c"])
    const frames = await talk(sb.socket, noEnv)
    expect(frames).toHaveLength(1)
    expect(frames[0]!["type"]).toBe("error")
    expect(String(frames[0]!["message"])).toMatch(/^malformed request: .*env/s)
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    expect(sb.stats().stats.compile_requests).toBe(1)
  }, 60_000)
})

describe("long and failing compiles", () => {
  it("a compile of several seconds sends a keep-alive every second, then the answer", async () => {
    const sb = sandbox()
    sb.write("a.c", "int a;\n")
    const slowcc = path.join(sb.dir, "slowcc")
    fs.writeFileSync(slowcc, `#!/bin/sh\ncase " $* " in *" -c "*) sleep 3;; esac\nexec gcc "$@"\n`, { mode: 0o755 })
    const build = await buildId(sb)
    const frames = await talk(sb.socket, compileRequest(sb, build, slowcc, ["-c", "a.c"]))
    const types = frames.map((f) => f["type"])
    expect(types.at(-1)).toBe("compiled")
    expect(types.slice(0, -1).every((t) => t === "busy")).toBe(true)
    expect(types.length - 1).toBeGreaterThanOrEqual(2)
    expect(fs.existsSync(path.join(sb.dir, "a.o"))).toBe(true)
  }, 60_000)

  it("a compiler that dies of a signal is reported with the signal", async () => {
    const sb = sandbox()
    sb.write("a.c", "int a;\n")
    // The compiler the user named crashes (its probes by the daemon work).
    const crashcc = path.join(sb.dir, "crashcc")
    fs.writeFileSync(crashcc, `#!/bin/sh\ncase " $* " in *" -c "*) kill -SEGV $$;; esac\nexec gcc "$@"\n`, { mode: 0o755 })
    const build = await buildId(sb)
    const frames = await talk(sb.socket, compileRequest(sb, build, crashcc, ["-c", "a.c"]))
    expect(frames.at(-1)).toMatchObject({ type: "compiled", exitCode: 139, signal: "SIGSEGV" })
  }, 60_000)
})

describe("SCCACHE_IDLE_TIMEOUT beyond Node's timer range", () => {
  it("a timeout of 2147484 s (past 2^31 ms) keeps the daemon up", async () => {
    const sb = sandbox({ SCCACHE_IDLE_TIMEOUT: "2147484" })
    sb.write("a.c", "int a;\n")
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    await sleep(2000)
    expect(fs.existsSync(sb.socket)).toBe(true)
    fs.rmSync(path.join(sb.dir, "a.o"))
    expect(sb.sccache(["gcc", "-c", "a.c"]).code).toBe(0)
    const s = sb.stats().stats
    expect(s.compile_requests).toBe(2)
    expect(total(s.cache_hits)).toBe(1)
  }, 60_000)
})
