/**
 * The one entry point: a compile (`sccache-ts gcc …`, or a symlink named like the compiler), a
 * command (`--show-stats` …), or the daemon itself (SCCACHE_START_SERVER=1).
 *
 * A compile's hot path (one request to a running daemon, then replaying its answer, or running
 * the compiler here when the daemon says it is not for the cache) loads no Effect at all: Node's
 * start is most of a hit's cost, and every module adds to it. Everything else (starting a daemon,
 * the commands) is imported when needed.
 */
import { enableCompileCache } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { compileRequest, exchange, type Exchanged, replay } from "../client/Exchange.ts"
import { dropOwnNames, isOwnName, resolveCompiler } from "../client/ResolveCompiler.ts"
import { runHere } from "../client/RunHere.ts"
import { socketPath } from "../config/SocketPath.ts"

const env = process.env as Record<string, string>
const entry = fileURLToPath(import.meta.url)
const self = process.argv[1]!

/**
 * Imports a module of dist/ (the Effect client, the commands, the daemon), which Node then parses
 * once and caches. Not on the hot path: a hit never gets here, and the cache costs a millisecond.
 */
const lazy = <M>(load: () => Promise<M>): Promise<M> => {
  enableCompileCache?.()
  return load()
}

const compile = async (compiler: string, args: ReadonlyArray<string>): Promise<number> => {
  const exe = resolveCompiler(compiler, env["PATH"], process.cwd(), self)
  if (exe === undefined) {
    process.stderr.write(`sccache-ts: error: cannot find compiler "${compiler}"\n`)
    return 2
  }
  const request = compileRequest(exe, args, env)
  let first: Exchanged | undefined
  if (env["SCCACHE_DISABLE"] !== "1") {
    first = await exchange(socketPath(env), request)
    if (first._tag === "Answer" && first.response.type === "compiled") return replay(first.response)
    if (first._tag === "Answer" && first.response.type === "run-locally") return runHere(exe, args)
  }
  const { runCompile } = await lazy(() => import("../client/ClientMain.ts"))
  return runCompile(request, first, env, entry)
}

const main = async (): Promise<number> => {
  if (env["SCCACHE_START_SERVER"] === "1") {
    const { runDaemon } = await lazy(() => import("../daemon/DaemonMain.ts"))
    return runDaemon(env)
  }
  if (!isOwnName(self)) return compile(path.basename(self), process.argv.slice(2))
  const args = dropOwnNames(process.argv.slice(2), self)
  if (args.length > 0 && !args[0]!.startsWith("-")) return compile(args[0]!, args.slice(1))
  const { parseCommand, runCommandMain } = await lazy(() => import("../client/Commands.ts"))
  const cmd = parseCommand(args)
  if (cmd._tag === "UsageError") {
    process.stderr.write(`sccache-ts: error: ${cmd.message}\n`)
    return 2
  }
  return runCommandMain(cmd, env, entry)
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`sccache-ts: error: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exitCode = 2
  }
)
