/**
 * The jobserver end to end: GNU make drives the built binary over a compiler shim that sleeps in
 * every compile and logs when it starts and ends, so the log tells how many compiles ran at once.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { packageCopy } from "../support/client-kit.ts"
import { BIN, makeSandbox, run, runAsync, type Sandbox } from "../support/harness.ts"

const SHIM = `#!/bin/sh
# A gcc look-alike: -E echoes the source; a compile logs its start and end around a sleep.
out=; dep=; src=; mode=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "gcc (GCC) 12.2.0"; echo "Copyright (C) 2022 Free Software Foundation, Inc."; exit 0;;
    -E) mode=E;;
    -c) mode=c;;
    -o) out=$2; shift;;
    -MF) dep=$2; shift;;
    *.c) src=$1;;
  esac
  shift
done
if [ "$mode" = E ]; then [ -n "$src" ] && { echo "# 1 \\"$src\\""; cat "$src"; }; exit 0; fi
echo "start $(date +%s%N)" >> "$SHIM_LOG"
sleep "$SHIM_SLEEP"
echo "end $(date +%s%N)" >> "$SHIM_LOG"
cat "$src" > "$out"
if [ -n "$dep" ]; then echo "$out: $src" > "$dep"; fi
`

/** Without any jobserver of the test runner's own. */
const withoutJobserver = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const e = { ...env }
  for (const v of ["MAKEFLAGS", "MFLAGS", "CARGO_MAKEFLAGS", "MAKELEVEL"]) delete e[v]
  return e
}

interface Bench {
  readonly sb: Sandbox
  readonly env: NodeJS.ProcessEnv
  readonly shim: string
  /** Fresh sources (never a cache hit), named `<tag>-<i>.c`. */
  readonly sources: (tag: string, n: number) => Array<string>
  /** The most compiles that ran at once since the last call. */
  readonly peak: () => number
}

const sandboxes: Array<Sandbox> = []
afterAll(() => {
  for (const sb of sandboxes) sb.stop()
})

const bench = (sleep = "0.4"): Bench => {
  const sb = makeSandbox()
  sandboxes.push(sb)
  const log = path.join(sb.dir, "shim.log")
  const shim = sb.write("shimcc", SHIM)
  fs.chmodSync(shim, 0o755)
  const env = withoutJobserver({ ...sb.env, SHIM_LOG: log, SHIM_SLEEP: sleep })
  return {
    sb,
    env,
    shim,
    sources: (tag, n) =>
      Array.from({ length: n }, (_, i) => {
        sb.write(`${tag}-${i}.c`, `int ${tag.replace(/\W/g, "_")}_${i}(void) { return ${i}; }\n`)
        return `${tag}-${i}`
      }),
    peak: () => {
      const events = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ")).map(([kind, t]) => ({ end: kind === "end", t: BigInt(t!) }))
      fs.rmSync(log)
      // At one instant an end counts before a start: touching is not overlapping.
      events.sort((a, b) => (a.t === b.t ? Number(b.end) - Number(a.end) : a.t < b.t ? -1 : 1))
      let running = 0
      let max = 0
      for (const e of events) max = Math.max(max, (running += e.end ? -1 : 1))
      return max
    }
  }
}

const makefile = (objects: Array<string>) =>
  `all: ${objects.map((o) => `${o}.o`).join(" ")}\n%.o: %.c\n\t${BIN} $(CC) -c $< -o $@\n`

describe("make -jN through sccache-ts", () => {
  const b = bench()
  for (const n of [1, 2, 4]) {
    it(`runs at most ${n} compiles at once, and ${n} when make allows it`, () => {
      const objects = b.sources(`j${n}`, Math.max(3, 2 * n))
      fs.writeFileSync(path.join(b.sb.dir, `Makefile.${n}`), makefile(objects))
      const r = run("make", ["-f", `Makefile.${n}`, `-j${n}`, `CC=${b.shim}`], { cwd: b.sb.dir, env: b.env })
      expect(r.stderr.toString()).toBe("")
      expect(r.code).toBe(0)
      for (const o of objects) expect(fs.existsSync(path.join(b.sb.dir, `${o}.o`))).toBe(true)
      // More than the CPUs of this machine for -j4: make's jobs hold their own tokens.
      expect(b.peak()).toBe(n)
    })
  }
  it("compiled each of them in the daemon", () => {
    expect(b.sb.stats().stats.requests_executed).toBe(3 + 4 + 8)
  })
})

describe("clients without a jobserver", () => {
  const b = bench()
  const compileAll = async (tag: string) => {
    const runs = await Promise.all(b.sources(tag, 6).map((o) => runAsync(BIN, [b.shim, "-c", `${o}.c`, "-o", `${o}.o`], { cwd: b.sb.dir, env: b.env })))
    for (const r of runs) expect(r.code).toBe(0)
    return b.peak()
  }
  it("run no more compiles at once than the daemon's pool, one per CPU, from the first request of a daemon they start", async () => {
    // No daemon yet: one of the six starts it, the others wait for it, and all six land in its pool.
    expect(fs.existsSync(b.sb.socket)).toBe(false)
    expect(await compileAll("cold")).toBe(Math.min(6, os.availableParallelism()))
    expect(b.sb.stats().stats.requests_executed).toBe(6)
  })
  it("and as many once the daemon is warm", async () => {
    expect(await compileAll("warm")).toBe(Math.min(6, os.availableParallelism()))
    expect(b.sb.stats().stats.requests_executed).toBe(12)
  })
})

describe("make -j2 through a daemon it starts", () => {
  it("runs at most two compiles at once, all of them in the daemon", () => {
    const b = bench()
    expect(fs.existsSync(b.sb.socket)).toBe(false)
    const objects = b.sources("cold-make", 6)
    fs.writeFileSync(path.join(b.sb.dir, "Makefile.cold"), makefile(objects))
    const r = run("make", ["-f", "Makefile.cold", "-j2", `CC=${b.shim}`], { cwd: b.sb.dir, env: b.env })
    expect(r.stderr.toString()).toBe("")
    expect(r.code).toBe(0)
    expect(b.peak()).toBeLessThanOrEqual(2)
    expect(b.sb.stats().stats.requests_executed).toBe(6)
  })
})

describe("a daemon started from a make job", () => {
  it("takes its tokens from that make's jobserver while the make runs, then from its own", async () => {
    const b = bench("0.3")
    const started = path.join(b.sb.dir, "started")
    const done = path.join(b.sb.dir, "done")
    // `+` makes the recipe recursive: make leaves its jobserver open to it, and so to the daemon.
    fs.writeFileSync(path.join(b.sb.dir, "Makefile.hold"), [
      "all: start hold",
      `start:\n\t+${BIN} --start-server && touch ${started}`,
      `hold:\n\twhile [ ! -e ${done} ]; do sleep 0.05; done`,
      ""
    ].join("\n"))
    // make -j2 puts one token in its pipe; `hold` runs on make's own once `start` is done.
    const make = spawn("make", ["-f", "Makefile.hold", "-j2"], { cwd: b.sb.dir, env: b.env, stdio: "ignore" })
    const exited = new Promise((resolve) => make.on("exit", resolve))
    while (!fs.existsSync(started)) await new Promise((r) => setTimeout(r, 20))

    const compileAll = async (tag: string) => {
      const runs = await Promise.all(b.sources(tag, 4).map((o) => runAsync(BIN, [b.shim, "-c", `${o}.c`, "-o", `${o}.o`], { cwd: b.sb.dir, env: b.env })))
      for (const r of runs) expect(r.code).toBe(0)
      return b.peak()
    }
    expect(await compileAll("under-make")).toBe(1)
    fs.writeFileSync(done, "")
    expect(await exited).toBe(0)
    // make has taken its tokens back on exit: the daemon falls back on its own pool.
    expect(await compileAll("after-make")).toBe(Math.min(4, os.availableParallelism()))
    expect(fs.readFileSync(path.join(b.sb.env["SCCACHE_ERROR_LOG"]!), "utf8")).toContain("using the jobserver of the environment")
  })
})

describe("a compile the client runs itself (not one for the cache) under make -j2", () => {
  it("gets make's jobserver, under the numbers make advertises", () => {
    const sb = makeSandbox()
    sandboxes.push(sb)
    const out = path.join(sb.dir, "probe.out")
    // Both descriptors open and a pipe (make ≤ 4.3), or the FIFO (make 4.4).
    const probe = sb.write("probe", [
      "#!/bin/sh",
      "auth=${MAKEFLAGS##*--jobserver-auth=}",
      "auth=${auth%% *}",
      "case $MAKEFLAGS in",
      '  *--jobserver-auth=fifo:*) [ -p "${auth#fifo:}" ] && echo reached || echo lost ;;',
      '  *--jobserver-auth=*) [ -p "/proc/self/fd/${auth%,*}" ] && [ -p "/proc/self/fd/${auth#*,}" ] && echo reached || echo lost ;;',
      "  *) echo none ;;",
      `esac > ${out}`,
      ""
    ].join("\n"))
    fs.chmodSync(probe, 0o755)
    // A link: the daemon leaves it to the client. `+`: make leaves its jobserver open to the recipe.
    sb.write("Makefile.probe", `all:\n\t+${BIN} ${probe} -o prog x.o\n`)
    const r = run("make", ["-f", "Makefile.probe", "-j2"], { cwd: sb.dir, env: withoutJobserver(sb.env) })
    expect(r.code).toBe(0)
    expect(fs.readFileSync(out, "utf8").trim()).toBe("reached")
  })

  it("still runs, without make's jobserver, when the install lacks the file that looks for it", () => {
    const sb = makeSandbox()
    sandboxes.push(sb)
    const out = path.join(sb.dir, "probe.out")
    const probe = sb.write("probe", `#!/bin/sh\necho ran > ${out}\n`)
    fs.chmodSync(probe, 0o755)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: true, node: "real" })
    fs.rmSync(path.join(path.dirname(bin), "..", "dist", "client-JobserverProc.mjs"))
    sb.write("Makefile.probe", `all:\n\t+${bin} ${probe} -o prog x.o\n`)
    const r = run("make", ["-f", "Makefile.probe", "-j2"], { cwd: sb.dir, env: withoutJobserver(sb.env) })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(out, "utf8").trim()).toBe("ran")
  })
})
