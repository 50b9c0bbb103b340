/**
 * The client on Bun and on Node: the same answers byte for byte, the launcher's choice of runtime
 * (package's Bun, package's Node, a Node on PATH, none), its symlinks and its sccache name.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, daemonPids, makeSandbox, ROOT, run, runAsync, type Run, type Sandbox } from "../support/harness.ts"
import { packageCopy, PATH_WITH_NODE, recordingCompiler } from "../support/client-kit.ts"

const REAL_NODE_BIN = path.join(ROOT, "node_modules", "node", "bin", "node")

const sandboxes: Array<Sandbox> = []
const sandbox = (env: NodeJS.ProcessEnv = {}) => {
  const sb = makeSandbox(env)
  sandboxes.push(sb)
  return sb
}
afterAll(() => {
  for (const sb of sandboxes) sb.stop()
})

const SOURCES = {
  "ok.c": "int answer(void) { return 42; }\n",
  "warn.c": "#warning careful\nint f(int x) { int unused; return x; }\n",
  "bad.c": "int f(void) { return nope; }\n",
  "main.c": "int main(void) { return 0; }\n"
}

const src = (sb: Sandbox) => sb.write("ok.c", SOURCES["ok.c"])
/** ok.c compiled by gcc itself. */
const plainObject = (sb: Sandbox) => {
  run("gcc", ["-c", "ok.c", "-o", "plain.o"], { cwd: sb.dir })
  return fs.readFileSync(path.join(sb.dir, "plain.o"))
}

/** Two compiles of ok.c through `bin`: both succeed silently, like plain gcc, the second from the cache. */
const missThenHit = (sb: Sandbox, bin: string) => {
  for (const o of ["a.o", "b.o"]) {
    const r = run(bin, ["gcc", "-c", "ok.c", "-o", o], { cwd: sb.dir, env: sb.env })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject(sb))
  }
  const stats = JSON.parse(run(bin, ["--show-stats", "--stats-format", "json"], { cwd: sb.dir, env: sb.env }).stdout.toString()).stats
  expect([stats.cache_misses.counts["C/C++"], stats.cache_hits.counts["C/C++"]]).toEqual([1, 1])
}

/** What a build sees of one call, objects included. */
const seen = (r: Run, dir: string, files: ReadonlyArray<string>) => ({
  code: r.code,
  stdout: r.stdout.toString("hex"),
  stderr: r.stderr.toString(),
  files: files.map((f) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f)).toString("hex") : "missing"))
})

/** A miss, a hit with warnings, a failed compile, a link (run here) and -E to stdout, through `call`. */
const session = (call: (args: ReadonlyArray<string>) => Run, dir: string, tag: string) => [
  seen(call(["gcc", "-c", "ok.c", "-o", `${tag}-ok.o`]), dir, [`${tag}-ok.o`]),
  seen(call(["gcc", "-c", "ok.c", "-o", `${tag}-ok2.o`]), dir, [`${tag}-ok2.o`]),
  seen(call(["gcc", "-Wall", "-c", "warn.c", "-o", `${tag}-w.o`]), dir, [`${tag}-w.o`]),
  seen(call(["gcc", "-Wall", "-c", "warn.c", "-o", `${tag}-w2.o`]), dir, [`${tag}-w2.o`]),
  seen(call(["gcc", "-c", "bad.c", "-o", `${tag}-bad.o`]), dir, [`${tag}-bad.o`]),
  seen(call(["gcc", "main.c", "-o", `${tag}-prog`]), dir, []),
  seen(call(["gcc", "-E", "-P", "ok.c"]), dir, [])
]

describe("the client on Bun and on Node", () => {
  it("gives byte-identical outputs, stdout, stderr and exit codes on both, equal to plain gcc's", () => {
    const bun = sandbox()
    const node = sandbox({ SCCACHE_TS_RUNTIME: "node" })
    for (const [f, text] of Object.entries(SOURCES)) bun.write(f, text)
    // Both clients work in one directory (diagnostics name the paths), each with its own daemon and cache.
    const viaBun = session((a) => bun.sccache(a), bun.dir, "t")
    const viaNode = session((a) => node.sccache(a, { cwd: bun.dir }), bun.dir, "t")
    const plain = session((a) => run(a[0]!, a.slice(1), { cwd: bun.dir, env: bun.env }), bun.dir, "t")
    expect(viaBun).toEqual(viaNode)
    expect(viaBun).toEqual(plain)
    expect(viaBun[4]!.code).toBe(1)
    expect(viaBun[3]!.stderr).toContain("careful")
    // Each had a miss and a hit: both went through their daemon.
    for (const sb of [bun, node]) expect(sb.stats().stats.cache_hits.counts["C/C++"]).toBe(2)
  })

  it("runs on the package's Bun by default, on Node with SCCACHE_TS_RUNTIME=node", () => {
    const sb = sandbox({ SCCACHE_DISABLE: "1" })
    const log = path.join(sb.dir, "runtimes")
    const cc = recordingCompiler(sb.dir, log)
    sb.write("ok.c", SOURCES["ok.c"])
    expect(sb.sccache([cc, "-c", "ok.c", "-o", "a.o"]).code).toBe(0)
    expect(sb.sccache([cc, "-c", "ok.c", "-o", "b.o"], { env: { SCCACHE_TS_RUNTIME: "node" } }).code).toBe(0)
    const [first, second] = fs.readFileSync(log, "utf8").trim().split("\n")
    expect(first).toBe(fs.realpathSync(path.join(ROOT, "node_modules", "bun", "bin", "bun.exe")))
    expect(second).toBe(fs.realpathSync(REAL_NODE_BIN))
  })

  it("dies of the signal that killed a compiler it ran, on Bun as on Node", () => {
    const sb = sandbox({ SCCACHE_DISABLE: "1" })
    const crash = path.join(sb.dir, "crashcc")
    fs.writeFileSync(crash, "#!/bin/sh\nkill -SEGV $$\n", { mode: 0o755 })
    for (const runtime of ["bun", "node"]) {
      const r = spawnSync(BIN, [crash, "-c", "x.c"], { cwd: sb.dir, env: { ...sb.env, SCCACHE_TS_RUNTIME: runtime } })
      expect({ runtime, status: r.status, signal: r.signal }).toEqual({ runtime, status: null, signal: "SIGSEGV" })
    }
  })

  it("restores a hit with the permissions gcc gives under the client's umask (Bun's umask is read right)", () => {
    const sb = sandbox()
    sb.write("ok.c", SOURCES["ok.c"])
    const under = (mask: string, cmd: string) => run("sh", ["-c", `umask ${mask}; exec ${cmd}`], { cwd: sb.dir, env: sb.env })
    expect(under("022", `${BIN} gcc -c ok.c -o miss.o`).code).toBe(0)
    expect(under("077", `${BIN} gcc -c ok.c -o hit.o`).code).toBe(0)
    expect(under("077", "gcc -c ok.c -o plain.o").code).toBe(0)
    expect(sb.stats().stats.cache_hits.counts["C/C++"]).toBe(1)
    expect(fs.statSync(path.join(sb.dir, "hit.o")).mode & 0o777).toBe(fs.statSync(path.join(sb.dir, "plain.o")).mode & 0o777)
    expect(fs.statSync(path.join(sb.dir, "hit.o")).mode & 0o777).toBe(0o600)
  })

  it("replays megabytes of warnings without losing a byte", () => {
    const sb = sandbox()
    sb.write("loud.c", `${Array.from({ length: 2000 }, (_, i) => `#warning ${i} ${"x".repeat(1000)}\n`).join("")}int x;\n`)
    const big = (cmd: string, args: ReadonlyArray<string>) => spawnSync(cmd, args, { cwd: sb.dir, env: sb.env, maxBuffer: 1 << 28 })
    const plain = big("gcc", ["-c", "loud.c", "-o", "plain.o"])
    expect(plain.stderr.length).toBeGreaterThan(2_000_000)
    const miss = big(BIN, ["gcc", "-c", "loud.c", "-o", "miss.o"])
    const hit = big(BIN, ["gcc", "-c", "loud.c", "-o", "hit.o"])
    expect(sb.stats().stats.cache_hits.counts["C/C++"]).toBe(1)
    for (const r of [miss, hit]) expect({ code: r.status, stderr: r.stderr.equals(plain.stderr) }).toEqual({ code: 0, stderr: true })
  })
})

describe("the connection to the daemon", () => {
  // The client checks the socket from inside its directory and connects by its bare name there.
  it("reaches its own daemon on both runtimes, never a listener of the socket's name where the compile runs", async () => {
    for (const runtime of ["bun", "node"]) {
      const sb = sandbox(runtime === "node" ? { SCCACHE_TS_RUNTIME: "node" } : {})
      sb.write("ok.c", SOURCES["ok.c"])
      let decoyed = 0
      const decoy = net.createServer(() => {
        decoyed++
      })
      await new Promise<void>((resolve) => decoy.listen(path.join(sb.dir, path.basename(sb.socket)), resolve))
      try {
        for (const out of ["a.o", "b.o"]) {
          const r = await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", out], { cwd: sb.dir, env: sb.env })
          expect({ runtime, code: r.code, stderr: r.stderr.toString() }).toEqual({ runtime, code: 0, stderr: "" })
        }
      } finally {
        decoy.close()
      }
      expect({ runtime, decoyed }).toEqual({ runtime, decoyed: 0 })
      expect({ runtime, hits: sb.stats().stats.cache_hits.counts["C/C++"] }).toEqual({ runtime, hits: 1 })
    }
  })
})

describe("the launcher", () => {

  it("falls back to the package's Node when the package has no Bun", () => {
    const sb = sandbox({ SCCACHE_DISABLE: "1" })
    src(sb)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: false, node: "real" })
    const log = path.join(sb.dir, "runtimes")
    const cc = recordingCompiler(sb.dir, log)
    expect(run(bin, [cc, "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env }).code).toBe(0)
    expect(fs.readFileSync(log, "utf8").trim()).toBe(fs.realpathSync(REAL_NODE_BIN))
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    // And caches on it: a daemon started by the Node client.
    const cached = sandbox()
    src(cached)
    for (const o of ["b.o", "c.o"]) expect(run(bin, ["gcc", "-c", "ok.c", "-o", o], { cwd: cached.dir, env: cached.env }).code).toBe(0)
    expect(cached.stats().stats.cache_hits.counts["C/C++"]).toBe(1)
  })

  it("with Bun's stub (its postinstall not run: npm --ignore-scripts, pnpm): runs on Node, and caches", () => {
    const sb = sandbox()
    src(sb)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "stubbed"), { bun: "stub", node: "real" })
    const log = path.join(sb.dir, "runtimes")
    const cc = recordingCompiler(sb.dir, log)
    const local = run(bin, [cc, "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, SCCACHE_DISABLE: "1" } })
    expect({ code: local.code, stderr: local.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(log, "utf8").trim()).toBe(fs.realpathSync(REAL_NODE_BIN))
    for (const o of ["b.o", "c.o"]) {
      const r = run(bin, ["gcc", "-c", "ok.c", "-o", o], { cwd: sb.dir, env: sb.env })
      expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
      expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject(sb))
    }
    expect(JSON.parse(run(bin, ["--show-stats", "--stats-format", "json"], { cwd: sb.dir, env: sb.env }).stdout.toString()).stats.cache_hits.counts["C/C++"]).toBe(1)
    run(bin, ["--stop-server"], { cwd: sb.dir, env: sb.env })
  })

  it("with Bun but no Node fit for the daemon: an error, exit 2, and the compile still runs", () => {
    const sb = sandbox()
    src(sb)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: true, node: "none" })
    // The system's Node on this PATH is older than 22.19 (CI installs the same); none would do too.
    const r = run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, PATH: "/usr/bin:/bin" } })
    expect(r.code).toBe(2)
    expect(r.stderr.toString()).toMatch(/^sccache-ts: error: .*Node ≥ 22\.19/)
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
  })

  it("on a Node too old and no Bun: an error, exit 2, and the compile still runs", () => {
    const sb = sandbox()
    src(sb)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: false, node: "none" })
    const old = run("node", ["--version"], { cwd: sb.dir, env: { PATH: "/usr/bin:/bin" } }).stdout.toString()
    // This machine's /usr/bin/node is Node 20; the test means nothing with a newer one there.
    expect(old).toMatch(/^v(1\d|20|21|22\.(\d|1[0-8])\.)/)
    const r = run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, PATH: "/usr/bin:/bin" } })
    expect(r.code).toBe(2)
    expect(r.stderr.toString()).toMatch(/^sccache-ts: error: Node v.* is too old/)
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
  })

  it("with no runtime at all: an error, exit 2, and the compile still runs (never itself)", () => {
    const sb = sandbox()
    src(sb)
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: false, node: "none" })
    // A PATH with gcc and a masquerading gcc first, and no node: the launcher must skip itself.
    const tools = path.join(path.dirname(sb.dir), "tools")
    const fake = path.join(path.dirname(sb.dir), "fake")
    fs.mkdirSync(tools)
    fs.mkdirSync(fake)
    for (const t of ["gcc", "as", "readlink"]) fs.symlinkSync(run("sh", ["-c", `command -v ${t}`], { cwd: sb.dir }).stdout.toString().trim(), path.join(tools, t))
    fs.symlinkSync(bin, path.join(fake, "gcc"))
    const env = { ...sb.env, PATH: `${fake}:${tools}` }
    for (const r of [run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env }), run(path.join(fake, "gcc"), ["-c", "ok.c", "-o", "b.o"], { cwd: sb.dir, env })]) {
      expect(r.code).toBe(2)
      expect(r.stderr.toString()).toMatch(/^sccache-ts: error: no runtime/)
    }
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    expect(fs.readFileSync(path.join(sb.dir, "b.o"))).toEqual(plainObject(sb))
  })

  it("works through npm-style and masquerading symlinks and as sccache, never forwarding or recursing", () => {
    const sb = sandbox()
    src(sb)
    // ~/bin/sccache-ts -> the package's launcher (absolute, as npm links it); sccache and gcc chained (relative).
    const home = path.join(path.dirname(sb.dir), "home-bin")
    fs.mkdirSync(home)
    fs.symlinkSync(BIN, path.join(home, "sccache-ts"))
    fs.symlinkSync("sccache-ts", path.join(home, "sccache"))
    fs.symlinkSync("sccache", path.join(home, "gcc"))
    const env = { ...sb.env, PATH: `${home}:${PATH_WITH_NODE}` }
    const runs = [
      run(path.join(home, "gcc"), ["-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env }),
      run("sh", ["-c", "sccache gcc -c ok.c -o b.o"], { cwd: sb.dir, env }),
      run("sh", ["-c", "sccache-ts sccache gcc -c ok.c -o c.o"], { cwd: sb.dir, env })
    ]
    for (const r of runs) expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    for (const o of ["a.o", "b.o", "c.o"]) expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject(sb))
    // sccache's own flags answer as sccache-ts (the real sccache 0.4 is on this PATH too).
    expect(run("sh", ["-c", "sccache --version"], { cwd: sb.dir, env }).stdout.toString()).toMatch(/^sccache-ts /)
    const stats = JSON.parse(run("sh", ["-c", "sccache --show-stats --stats-format json"], { cwd: sb.dir, env }).stdout.toString())
    expect(stats.stats.compile_requests).toBe(3)
  })

  it("finds its package through npm's bin links and links to sccache-ts on PATH without a readlink process, through others with one", () => {
    const sb = sandbox()
    src(sb)
    const root = path.dirname(sb.dir)
    // npm's two layouts, linked as npm links them: a global prefix, and a project's node_modules.
    const prefix = path.join(root, "prefix")
    packageCopy(path.join(prefix, "lib", "node_modules", "sccache-ts"), { bun: true, node: "real" })
    fs.mkdirSync(path.join(prefix, "bin"))
    fs.symlinkSync("../lib/node_modules/sccache-ts/bin/sccache-ts", path.join(prefix, "bin", "sccache-ts"))
    const modules = path.join(root, "project", "node_modules")
    packageCopy(path.join(modules, "sccache-ts"), { bun: true, node: "real" })
    fs.mkdirSync(path.join(modules, ".bin"))
    fs.symlinkSync("../sccache-ts/bin/sccache-ts", path.join(modules, ".bin", "sccache-ts"))
    // A masquerading gcc elsewhere, linked to the global one.
    const masq = path.join(root, "masq")
    fs.mkdirSync(masq)
    fs.symlinkSync(path.join(prefix, "bin", "sccache-ts"), path.join(masq, "gcc"))
    // A readlink first on PATH that notes what it is asked.
    const tools = path.join(root, "tools")
    const log = path.join(root, "readlinks")
    fs.mkdirSync(tools)
    const readlink = run("sh", ["-c", "command -v readlink"], { cwd: root }).stdout.toString().trim()
    fs.writeFileSync(path.join(tools, "readlink"), `#!/bin/sh\necho "$@" >> '${log}'\nexec '${readlink}' "$@"\n`, { mode: 0o755 })
    const env = { ...sb.env, PATH: `${tools}:${PATH_WITH_NODE}` }
    const runs = [
      run(path.join(prefix, "bin", "sccache-ts"), ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env }),
      run(path.join(modules, ".bin", "sccache-ts"), ["gcc", "-c", "ok.c", "-o", "b.o"], { cwd: sb.dir, env })
    ]
    expect(fs.existsSync(log)).toBe(false)
    // The masquerading link, with the global sccache-ts on PATH: found there, no readlink either.
    runs.push(run(path.join(masq, "gcc"), ["-c", "ok.c", "-o", "c.o"], { cwd: sb.dir, env: { ...env, PATH: `${env.PATH}:${path.join(prefix, "bin")}` } }))
    expect(fs.existsSync(log)).toBe(false)
    // Without it on PATH: one readlink, for the masquerading link only (the global link it leads to needs none).
    runs.push(run(path.join(masq, "gcc"), ["-c", "ok.c", "-o", "d.o"], { cwd: sb.dir, env }))
    expect(fs.readFileSync(log, "utf8")).toBe(`${path.join(masq, "gcc")}\n`)
    for (const r of runs) expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    for (const o of ["a.o", "b.o", "c.o", "d.o"]) expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject(sb))
    expect(sb.stats().stats.cache_hits.counts["C/C++"]).toBe(3)
  })

  it("on Bun runs the client's bytecode build, on Node the plain one, and Bun without bytecode the plain one", () => {
    const sb = sandbox({ SCCACHE_DISABLE: "1" })
    src(sb)
    // A compiler that notes the client's command line (the client runs it itself: the cache is off).
    const log = path.join(sb.dir, "clients")
    const cc = sb.write("argcc", `#!/bin/sh\ntr '\\0' ' ' < /proc/$PPID/cmdline >> '${log}'\necho >> '${log}'\nexec gcc "$@"\n`)
    fs.chmodSync(cc, 0o755)
    const bare = path.join(path.dirname(sb.dir), "bare")
    const bareBin = packageCopy(bare, { bun: true, node: "real" })
    fs.rmSync(path.join(bare, "dist", "client-bun.js"))
    expect(sb.sccache([cc, "-c", "ok.c", "-o", "a.o"]).code).toBe(0)
    expect(sb.sccache([cc, "-c", "ok.c", "-o", "b.o"], { env: { SCCACHE_TS_RUNTIME: "node" } }).code).toBe(0)
    expect(run(bareBin, [cc, "-c", "ok.c", "-o", "c.o"], { cwd: sb.dir, env: sb.env }).code).toBe(0)
    const [onBun, onNode, bareBun] = fs.readFileSync(log, "utf8").trim().split("\n")
    expect(onBun).toMatch(/bun\.exe .*\/dist\/client-bun\.js /)
    expect(onNode).toMatch(/node .*\/dist\/client\.mjs /)
    expect(bareBun).toMatch(/bun\.exe .*\/bare\/bin\/\.\.\/dist\/client\.mjs /)
    for (const o of ["a.o", "b.o", "c.o"]) expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject(sb))
  })

  it("with bytecode Bun can't use (another Bun's, damaged): Bun reads the source, and caches as before", () => {
    const sb = sandbox()
    src(sb)
    const pkg = path.join(path.dirname(sb.dir), "damaged")
    const bin = packageCopy(pkg, { bun: true, node: "real" })
    const jsc = path.join(pkg, "dist", "client-bun.js.jsc")
    expect(fs.statSync(jsc).size).toBeGreaterThan(1000)
    fs.writeFileSync(jsc, Buffer.concat([fs.readFileSync(jsc).subarray(0, 64), Buffer.alloc(4096, 0xa5)]))
    missThenHit(sb, bin)
    run(bin, ["--stop-server"], { cwd: sb.dir, env: sb.env })
  })

  it("works as a copy named sccache beside it, and from a clone that was moved", () => {
    const sb = sandbox()
    src(sb)
    const first = path.join(path.dirname(sb.dir), "first")
    const bin = packageCopy(first, { bun: true, node: "real" })
    fs.copyFileSync(bin, path.join(first, "bin", "sccache"))
    const moved = path.join(path.dirname(sb.dir), "moved")
    expect(run(path.join(first, "bin", "sccache"), ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env }).code).toBe(0)
    sb.stop()
    fs.renameSync(first, moved)
    const r = run(path.join(moved, "bin", "sccache"), ["gcc", "-c", "ok.c", "-o", "b.o"], { cwd: sb.dir, env: sb.env })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "b.o"))).toEqual(plainObject(sb))
    // The moved copy's daemon (started from the new place) served it from the cache.
    expect(JSON.parse(run(path.join(moved, "bin", "sccache"), ["--show-stats", "--stats-format", "json"], { cwd: sb.dir, env: sb.env }).stdout.toString()).stats.cache_hits.counts["C/C++"]).toBe(1)
    run(path.join(moved, "bin", "sccache"), ["--stop-server"], { cwd: sb.dir, env: sb.env })
  })
})

describe("the daemon's startup snapshot", () => {
  const cmdlines = (sb: Sandbox) => daemonPids(sb).map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== ""))
  it("starts the first compile's daemon from the build's snapshot, on the Bun and the Node client alike", () => {
    expect(fs.existsSync(path.join(ROOT, "dist", "daemon.blob"))).toBe(true)
    for (const env of [{}, { SCCACHE_TS_RUNTIME: "node" }]) {
      const sb = sandbox(env)
      src(sb)
      missThenHit(sb, BIN)
      // The entry comes along: the daemon finds dist/ and the storage SDKs by it.
      expect(cmdlines(sb)).toEqual([[REAL_NODE_BIN, "--snapshot-blob", path.join(ROOT, "dist", "daemon.blob"), path.join(ROOT, "dist", "client.mjs")]])
      sb.stop()
    }
  })

  it("is not used with another Node than the one that made it: the daemon starts plainly and caches", () => {
    const sb = sandbox()
    src(sb)
    const pkg = path.join(path.dirname(sb.dir), "pkg")
    const bin = packageCopy(pkg, { bun: true, node: "real" })
    const fit = path.join(pkg, "dist", "daemon-snapshot.json")
    fs.writeFileSync(fit, JSON.stringify({ ...JSON.parse(fs.readFileSync(fit, "utf8")), mtimeMs: 1 }))
    missThenHit(sb, bin)
    expect(cmdlines(sb)).toEqual([[path.join(pkg, "node_modules", "node", "bin", "node"), path.join(pkg, "dist", "client.mjs")]])
    run(bin, ["--stop-server"], { cwd: sb.dir, env: sb.env })
  })

  it("is not made when it would hold node:crypto (it crashes worker threads) or by a Node too old for the daemon", () => {
    const sb = sandbox()
    const make = (node: string, prelude: string) => {
      const dist = fs.mkdtempSync(path.join(path.dirname(sb.dir), "dist-"))
      fs.writeFileSync(path.join(dist, "daemon-snapshot.cjs"), prelude + fs.readFileSync(path.join(ROOT, "dist", "daemon-snapshot.cjs"), "utf8"))
      const script = `import(${JSON.stringify(path.join(ROOT, "scripts", "snapshot.mjs"))}).then((m) => console.log(m.makeSnapshot(${JSON.stringify(dist)})))`
      return { said: run(node, ["-e", script], { cwd: dist }).stdout.toString(), made: fs.readdirSync(dist).sort() }
    }
    expect(make(REAL_NODE_BIN, "")).toEqual({ said: expect.stringContaining("daemon startup snapshot"), made: ["daemon-snapshot.cjs", "daemon-snapshot.json", "daemon.blob"] })
    expect(make(REAL_NODE_BIN, 'require("node:crypto");\n')).toEqual({ said: expect.stringMatching(/^no daemon snapshot.*node:crypto was loaded/), made: ["daemon-snapshot.cjs"] })
    // This machine's /usr/bin/node is Node 20 (see the launcher's tests).
    expect(make("/usr/bin/node", "")).toEqual({ said: expect.stringMatching(/^no daemon snapshot/), made: ["daemon-snapshot.cjs"] })
  })

  it("that fails to load (damaged): the client starts the daemon without it, and the compile is cached", () => {
    const sb = sandbox()
    src(sb)
    const pkg = path.join(path.dirname(sb.dir), "pkg")
    const bin = packageCopy(pkg, { bun: true, node: "real" })
    // Cut short, the blob crashes Node as it loads; the fit file still names this Node.
    const blob = path.join(pkg, "dist", "daemon.blob")
    fs.truncateSync(blob, 1 << 20)
    missThenHit(sb, bin)
    expect(cmdlines(sb)).toEqual([[path.join(pkg, "node_modules", "node", "bin", "node"), path.join(pkg, "dist", "client.mjs")]])
    expect(fs.readFileSync(sb.env["SCCACHE_ERROR_LOG"]!, "utf8")).toMatch(/WARN sccache-ts client: the daemon exited \(.*\) from its startup snapshot: starting it without/)
    run(bin, ["--stop-server"], { cwd: sb.dir, env: sb.env })
  })
})
