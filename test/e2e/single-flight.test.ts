/**
 * Single flight: identical compiles that miss while the first one runs (same key, working
 * directory and output) run the compiler once; the others wait for it and restore its outputs
 * from the cache. A failed first compile is not shared: each runs its own.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { BIN, run, runAsync, type Sandbox, sandboxesPerTest, total } from "../support/harness.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const sandbox = sandboxesPerTest()

/** gcc behind a shim that logs each real compile (not preprocessing, not probes) and takes its time. */
const slowCompiler = (sb: Sandbox) => {
  const log = path.join(sb.dir, "compiles.log")
  const exe = sb.write("slowcc", `#!/bin/sh\ncase " $* " in *" -E "*) ;; *" -c "*) echo "$*" >> ${log}; sleep 1.5;; esac\nexec gcc "$@"\n`)
  fs.chmodSync(exe, 0o755)
  return { exe, compiles: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").length : 0) }
}

/** Two clients with the same command line; the second starts while the first compiles. */
const twoAtOnce = async (sb: Sandbox, args: ReadonlyArray<string>) => {
  const first = runAsync(BIN, args, { cwd: sb.dir, env: sb.env })
  await sleep(500)
  const second = runAsync(BIN, args, { cwd: sb.dir, env: sb.env })
  return Promise.all([first, second])
}

describe.each([
  ["direct mode", {}],
  ["preprocessor mode", { SCCACHE_DIRECT: "false" }]
])("single flight in %s", (_, env) => {
  it("two identical compiles at once run the compiler once, and both get its outputs", async () => {
    const sb = sandbox(env)
    // A warning, so the reply the second client replays from the cache is visible.
    sb.write("a.c", "int a(int x) { int unused; return x + 1; }\n")
    const cc = slowCompiler(sb)
    sb.sccache(["--start-server"])
    const [r1, r2] = await twoAtOnce(sb, [cc.exe, "-Wall", "-c", "a.c", "-o", "a.o"])
    expect(cc.compiles()).toBe(1)
    expect([r1.code, r2.code]).toEqual([0, 0])
    expect(r1.stderr.toString()).toMatch(/unused variable/)
    expect(r2.stderr.toString()).toBe(r1.stderr.toString())
    const cached = fs.readFileSync(path.join(sb.dir, "a.o"))
    expect(run("gcc", ["-Wall", "-c", "a.c", "-o", "plain.o"], { cwd: sb.dir }).code).toBe(0)
    expect(cached.equals(fs.readFileSync(path.join(sb.dir, "plain.o")))).toBe(true)
    const s = sb.stats().stats
    expect(total(s.cache_misses)).toBe(1)
    expect(total(s.cache_hits)).toBe(1)
  }, 30_000)

  it("a failed first compile is not shared: the second runs the compiler itself", async () => {
    const sb = sandbox(env)
    sb.write("bad.c", "int bad(void) { return missing; }\n")
    const cc = slowCompiler(sb)
    sb.sccache(["--start-server"])
    const [r1, r2] = await twoAtOnce(sb, [cc.exe, "-c", "bad.c", "-o", "bad.o"])
    expect(cc.compiles()).toBe(2)
    expect([r1.code, r2.code]).toEqual([1, 1])
    expect(r2.stderr.toString()).toBe(r1.stderr.toString())
    expect(total(sb.stats().stats.cache_hits)).toBe(0)
  }, 30_000)
})
