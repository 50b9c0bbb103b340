/**
 * The one entry point, run by the launcher (bin/sccache-ts) as `<runtime> dist/client.mjs <invoked
 * name> <args…>`: a compile (`sccache-ts gcc …`, or a symlink named like the compiler), a command
 * (`--show-stats` …), or the daemon itself (SCCACHE_START_SERVER=1, on Node).
 *
 * A compile's whole path (ask the daemon, start one if none answers, replay its answer or run the
 * compiler here) loads no Effect at all and, on Bun, almost no `node:` module: the runtime's start
 * is most of a hit's cost, and every module adds to it. The commands and the daemon are imported
 * when needed. The bundle parses on old Nodes too, so that one gets a clear error, not a SyntaxError.
 */
import { ask, nodeIsRecentEnough, TOO_OLD_NODE, warn } from "../client/Daemon.ts"
import { compileRequest, hasLossyBytes, replay } from "../client/Exchange.ts"
import { dropOwnNames, isOwnName, locateCompiler } from "../client/ResolveCompiler.ts"
import { runtimeName, stderrIsTerminal } from "../client/Runtime.ts"
import { socketPath } from "../config/SocketPath.ts"
import { basenameOf } from "../fs/PosixPath.ts"

const env = process.env as Record<string, string>
/** This bundle, as a daemon runs it on Node: on Bun we may be its bytecode build, dist/client-bun.js. */
const entry = process.argv[1]!.replace(/client-bun\.js$/, "client.mjs")
/** The name we were invoked by (the launcher's $0): `sccache-ts`, `sccache`, or a compiler's. */
const self = process.argv[2] ?? "sccache-ts"
const argv = process.argv.slice(3)

const NEEDS_NODE = "needs Node ≥ 22.19 (or the package's Bun)"
const tooOldNode = runtimeName === "node" && !nodeIsRecentEnough(process.versions.node)

/**
 * Imports a module of dist/ (the commands, the daemon), which Node then parses once and caches.
 * Not on the hot path: a compile never gets here.
 */
const lazy = async <M>(load: () => Promise<M>): Promise<M> => {
  const m = await import("node:module")
  ;(m as { enableCompileCache?: () => void }).enableCompileCache?.()
  return load()
}

const fail = (message: string): 2 => {
  process.stderr.write(`sccache-ts: error: ${message}\n`)
  return 2
}

/** Runs the compiler here (loaded only then: a hit never does). */
const runHere = async (exe: string, args: ReadonlyArray<string>, lossy: boolean): Promise<number> =>
  (await import("../client/RunHere.ts")).runHere(exe, args, lossy)

const compile = async (compiler: string, args: ReadonlyArray<string>): Promise<number> => {
  // Absolute paths from here on: the working directory is the socket's while the client connects.
  const cwd = process.cwd()
  // Before anything moves the working directory: this reads /proc/self/cwd when in doubt.
  const lossy = await hasLossyBytes(process.argv, env, cwd)
  // Independent looks at files, awaited together (on Bun each stat is a trip to its I/O threads),
  // and the connection to the daemon made meanwhile: the request goes out once both are ready.
  const looked = Promise.all([locateCompiler(compiler, env["PATH"], cwd, self), stderrIsTerminal()])
  const cached = !tooOldNode && env["SCCACHE_DISABLE"] !== "1"
  const request = looked.then(([exe, stderrTty]) => exe === undefined ? undefined : compileRequest(exe, args, env, { lossy, stderrTty, cwd }))
  const asking = cached ? ask(socketPath(env), request, { env, entry, start: true }) : undefined
  const [exe] = await looked
  if (exe === undefined) return fail(`cannot find compiler "${compiler}"`)
  // No runtime fit for sccache-ts: say so and fail, but the compile still runs and leaves its outputs.
  const broken = async (message: string) => {
    fail(message)
    await runHere(exe, args, lossy)
    return 2
  }
  if (tooOldNode) return broken(`Node ${process.version} is too old: sccache-ts ${NEEDS_NODE}`)
  if (asking === undefined) return runHere(exe, args, lossy)
  const asked = await asking
  if (asked._tag === "Answer" && asked.response.type === "compiled") return replay(asked.response)
  if (asked._tag === "Answer" && asked.response.type === "run-locally") return runHere(exe, args, lossy)
  if (asked._tag === "Unavailable" && asked.noRuntime) return broken(asked.reason)
  await warn(env, `compiling ${exe} here, without the cache: ${describe(asked)}`)
  return runHere(exe, args, lossy)
}

const describe = (asked: Awaited<ReturnType<typeof ask>>): string => {
  switch (asked._tag) {
    case "Answer":
      return asked.response.type === "error" ? `the daemon answered: ${asked.response.message}` : `the daemon answered ${asked.response.type}`
    case "NoDaemon":
      return `no daemon (${asked.code})`
    case "Lost":
      return `the daemon went away (${asked.message})`
    case "Silent":
      return "the daemon sent nothing for 10 s"
    case "Unavailable":
      return asked.reason
  }
}

const main = async (): Promise<number> => {
  if (env["SCCACHE_START_SERVER"] === "1") {
    if (runtimeName !== "node" || tooOldNode) {
      process.stderr.write(`sccache-ts: error: the daemon ${NEEDS_NODE.replace(" (or the package's Bun)", "")}; this is ${runtimeName} ${process.version}\n`)
      return TOO_OLD_NODE
    }
    const { runDaemon } = await lazy(() => import("../daemon/DaemonMain.ts"))
    return runDaemon(env)
  }
  if (!isOwnName(self)) return compile(basenameOf(self), argv)
  const args = await dropOwnNames(argv, self, process.cwd())
  if (args.length > 0 && !args[0]!.startsWith("-")) return compile(args[0]!, args.slice(1))
  if (tooOldNode) return fail(`Node ${process.version} is too old: sccache-ts ${NEEDS_NODE}`)
  const { parseCommand, runCommandMain } = await lazy(() => import("../client/Commands.ts"))
  const cmd = parseCommand(args)
  if (cmd._tag === "UsageError") return fail(cmd.message)
  return runCommandMain(cmd, env, entry)
}

// A runtime exits once nothing is pending: if a bug ever left main waiting on nothing, the build
// must see a failure, never a silent success without an object.
let finished = false
process.on("exit", () => {
  if (!finished) process.exitCode = fail("internal error: the client stopped before it was done")
})
main().then(
  (code) => {
    finished = true
    process.exitCode = code
  },
  (e) => {
    finished = true
    process.exitCode = fail(e instanceof Error ? e.message : String(e))
  }
)
