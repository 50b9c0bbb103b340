// npm run demo: builds examples/c-project through sccache-ts twice (a cold cache, then a warm one)
// and shows the statistics. Everything happens in a temporary directory with its own cache and daemon.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "bin", "sccache-ts")
if (!fs.existsSync(bin)) execFileSync(process.execPath, [path.join(root, "scripts", "build.mjs")], { stdio: "inherit" })

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sccache-ts-demo-"))
const project = path.join(work, "c-project")
fs.cpSync(path.join(root, "examples", "c-project"), project, { recursive: true })
const env = {
  ...process.env,
  SCCACHE_DIR: path.join(work, "cache"),
  SCCACHE_SERVER_UDS: path.join(work, "run", "daemon.sock")
}
const sh = (cmd, args, opts = {}) => {
  console.log(`$ ${[cmd, ...args].join(" ")}`)
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { cwd: project, env, stdio: "inherit", ...opts })
  if (r.status !== 0) throw new Error(`${cmd} failed with status ${r.status}`)
  return Number(process.hrtime.bigint() - t) / 1e6
}

try {
  console.log(`sccache-ts demo in ${work}\n`)
  const cold = sh("make", ["-j2", `CC=${bin} gcc`])
  sh("make", ["clean"])
  const warm = sh("make", ["-j2", `CC=${bin} gcc`])
  sh(path.join(project, "build", "demo"), [])
  console.log(`\nbuild with a cold cache: ${cold.toFixed(0)} ms; rebuild from the cache: ${warm.toFixed(0)} ms\n`)
  sh(bin, ["--show-stats"])
} finally {
  spawnSync(bin, ["--stop-server"], { env, stdio: "ignore" })
  fs.rmSync(work, { recursive: true, force: true })
}
