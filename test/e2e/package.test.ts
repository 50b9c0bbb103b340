/**
 * sccache-ts as a package: `npm pack`, then `npm install -g` of the tarball into a temporary prefix
 * and `npx` of it, compiling through what got installed, under both names.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { daemonPids, makeSandbox, ROOT, run, type Sandbox } from "../support/harness.ts"
import { PATH_WITH_NODE } from "../support/client-kit.ts"

let tmp: string
let tarball: string
let sb: Sandbox
/** npm's own cache serves what `npm ci` fetched; anything missing comes from the registry. */
const npm = (args: ReadonlyArray<string>, cwd: string) => run("npm", ["--prefer-offline", "--no-audit", "--no-fund", ...args], { cwd, env: { ...process.env, PATH: PATH_WITH_NODE } })

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sct-pkg-"))
  // --ignore-scripts: dist/ is built already (npm test builds first), and other test files use it now.
  const packed = npm(["pack", "--ignore-scripts", "--pack-destination", tmp], ROOT)
  expect(packed.code, packed.stderr.toString()).toBe(0)
  tarball = path.join(tmp, packed.stdout.toString().trim().split("\n").pop()!)
  sb = makeSandbox({ PATH: PATH_WITH_NODE })
  sb.write("ok.c", "int answer(void) { return 42; }\n")
}, 120_000)

afterAll(() => {
  sb?.stop()
})

const plainObject = () => {
  run("gcc", ["-c", "ok.c", "-o", "plain.o"], { cwd: sb.dir, env: sb.env })
  return fs.readFileSync(path.join(sb.dir, "plain.o"))
}

describe("the package", () => {
  it("packs the launcher and the built client and daemon, naming no path of this machine", () => {
    const list = run("tar", ["tzf", tarball], { cwd: tmp }).stdout.toString().split("\n")
    for (const f of ["package/bin/sccache-ts", "package/dist/client.mjs", "package/dist/DaemonMain.js", "package/dist/Commands.js"]) expect(list).toContain(f)
    // The daemon's startup snapshot loads only into the Node that made it: the package has what
    // makes one at install, not the blob.
    expect(list.filter((f) => /daemon\.blob|snapshot/.test(f)).sort()).toEqual(["package/dist/daemon-snapshot.cjs", "package/scripts/snapshot.mjs"])
    run("tar", ["xzf", tarball], { cwd: tmp })
    for (const f of ["bin/sccache-ts", "dist/client.mjs"]) expect(fs.readFileSync(path.join(tmp, "package", f), "utf8")).not.toContain(ROOT)
  })

  it("installs globally from the tarball and compiles through npm's bin link, as sccache-ts and as sccache", () => {
    const prefix = path.join(tmp, "prefix")
    const installed = npm(["install", "-g", "--prefix", prefix, tarball], tmp)
    expect(installed.code, installed.stderr.toString()).toBe(0)
    const bin = path.join(prefix, "bin", "sccache-ts")
    expect(fs.lstatSync(bin).isSymbolicLink()).toBe(true)
    fs.symlinkSync("sccache-ts", path.join(prefix, "bin", "sccache"))
    const a = run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env })
    const b = run(path.join(prefix, "bin", "sccache"), ["gcc", "-c", "ok.c", "-o", "b.o"], { cwd: sb.dir, env: sb.env })
    for (const r of [a, b]) expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    for (const o of ["a.o", "b.o"]) expect(fs.readFileSync(path.join(sb.dir, o))).toEqual(plainObject())
    const stats = JSON.parse(run(path.join(prefix, "bin", "sccache"), ["--show-stats", "--stats-format", "json"], { cwd: sb.dir, env: sb.env }).stdout.toString())
    expect(stats.stats.cache_hits.counts["C/C++"]).toBe(1)
    // It ran on the package's own Bun, installed beside it.
    const pkg = path.join(prefix, "lib", "node_modules", "sccache-ts")
    expect(fs.existsSync(path.join(pkg, "node_modules", "bun", "bin", "bun.exe"))).toBe(true)
    // Its postinstall made the daemon's snapshot for the installing Node (the first on PATH), and
    // the first compile's daemon started from it.
    const node = fs.realpathSync(path.join(ROOT, "node_modules", ".bin", "node"))
    expect(JSON.parse(fs.readFileSync(path.join(pkg, "dist", "daemon-snapshot.json"), "utf8")).node).toBe(node)
    const daemons = daemonPids(sb).map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== ""))
    expect(daemons.map((argv) => argv.slice(1))).toEqual([["--snapshot-blob", path.join(pkg, "dist", "daemon.blob"), path.join(pkg, "dist", "client.mjs")]])
  }, 600_000)

  it("runs through npx of the tarball", () => {
    const r = run("npx", ["--prefer-offline", "--yes", "--package", tarball, "--", "sccache-ts", "gcc", "-c", "ok.c", "-o", "c.o"], {
      cwd: sb.dir,
      env: { ...sb.env, npm_config_cache: path.join(os.homedir(), ".npm") }
    })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "c.o"))).toEqual(plainObject())
  }, 600_000)
})
