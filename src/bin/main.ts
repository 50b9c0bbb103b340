/**
 * The one entry point: a compile (`sccache-ts gcc …`, or a symlink named like the compiler), a
 * command (`--show-stats` …), or the daemon itself (SCCACHE_START_SERVER=1). Only the compile path
 * is loaded eagerly; the rest is imported when asked for.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { clientLayer, compile } from "../client/ClientMain.ts"
import { dropOwnNames, isOwnName } from "../client/ResolveCompiler.ts"

const env = process.env as Record<string, string>
const entry = fileURLToPath(import.meta.url)
const self = process.argv[1]!

const main = async (): Promise<number> => {
  if (env["SCCACHE_START_SERVER"] === "1") {
    const { runDaemon } = await import("../daemon/DaemonMain.ts")
    return runDaemon(env)
  }
  let args = process.argv.slice(2)
  let compiler: string
  if (!isOwnName(self)) compiler = path.basename(self)
  else {
    args = dropOwnNames(args, self)
    if (args.length === 0 || args[0]!.startsWith("-")) {
      const { parseCommand, runCommand } = await import("../client/Commands.ts")
      const cmd = parseCommand(args)
      if (cmd._tag === "UsageError") {
        process.stderr.write(`sccache-ts: error: ${cmd.message}\n`)
        return 2
      }
      return Effect.runPromise(runCommand(cmd, env).pipe(Effect.provide(clientLayer(env, entry))))
    }
    compiler = args[0]!
    args = args.slice(1)
  }
  return Effect.runPromise(compile(compiler, args, env).pipe(Effect.provide(clientLayer(env, entry))))
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
