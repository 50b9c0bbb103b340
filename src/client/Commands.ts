import { Data, Effect } from "effect"
import { defaultCacheDir, type Env, parseDaemonSettings } from "../config/Config.ts"
import { effectiveConfig } from "../config/ConfigFile.ts"
import { BUILD_ID, VERSION } from "../version.ts"
import { emptyStats } from "../stats/Stats.ts"
import { formatStatsJson, formatStatsText, type StatsReport } from "../stats/StatsFormat.ts"
import { clientLayer } from "./ClientMain.ts"
import { compileRequest } from "./Exchange.ts"
import { resolveCompiler } from "./CompilerOnPath.ts"
import { DaemonClient } from "./DaemonClient.ts"

export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

export type Command =
  | { readonly _tag: "ShowStats"; readonly format: "text" | "json"; readonly advanced: boolean }
  | { readonly _tag: "ZeroStats" }
  | { readonly _tag: "StartServer" }
  | { readonly _tag: "StopServer"; readonly format: "text" | "json" }
  | { readonly _tag: "Version" }
  /** `--explain gcc -c a.c`: why that compile would miss; without a compiler, every known manifest. */
  | { readonly _tag: "Explain"; readonly compiler: ReadonlyArray<string> }
  | { readonly _tag: "Help" }

export const USAGE = `sccache-ts ${VERSION}: a shared compilation cache (sccache- and ccache-compatible)

Usage:
  sccache-ts <compiler> [compiler arguments]   compile through the cache
  sccache-ts [options]

Options:
  -s, --show-stats            show cache statistics
      --show-adv-stats        the same, with hits and misses per compiler family
      --stats-format <fmt>    text (default) or json
  -z, --zero-stats            zero the statistics
      --start-server          start the background daemon
      --stop-server           stop the daemon and print its final statistics
      --explain <compiler> [args]   why that compile would miss: the input that changed since the
                              closest compile the daemon knows (source, header, argument, variable,
                              compiler), and its direct-mode manifest
      --debug-preprocessor-cache    every direct-mode manifest the daemon knows, file by file
  -V, --version               print the version
  -h, --help                  print this help

Configuration: sccache's config file (SCCACHE_CONF, else ~/.config/sccache/config) and variables
(SCCACHE_DIR, SCCACHE_CACHE_SIZE, SCCACHE_REDIS_ENDPOINT, SCCACHE_BUCKET, …), the variables winning;
see docs/configuration.md
`

/** Pure: sccache's command-line flags. Exactly one action; a format may go with the stats ones. */
export const parseCommand = (args: ReadonlyArray<string>): Command | UsageError => {
  let action: Exclude<Command["_tag"], "Explain"> | undefined
  let format: "text" | "json" = "text"
  let advanced = false
  const set = (a: Exclude<Command["_tag"], "Explain">): UsageError | undefined => {
    if (action !== undefined && action !== a) return new UsageError({ message: "only one action flag may be given" })
    action = a
    return undefined
  }
  // Everything after --explain is the compile, as it would be given to sccache-ts.
  if (args[0] === "--explain") {
    return args.length > 1 ? { _tag: "Explain", compiler: args.slice(1) } : new UsageError({ message: "--explain needs a compile: --explain gcc -c a.c" })
  }
  if (args.length === 1 && args[0] === "--debug-preprocessor-cache") return { _tag: "Explain", compiler: [] }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    let err: UsageError | undefined
    if (a === "-s" || a === "--show-stats") err = set("ShowStats")
    else if (a === "--show-adv-stats") {
      advanced = true
      err = set("ShowStats")
    }
    else if (a === "-z" || a === "--zero-stats") err = set("ZeroStats")
    else if (a === "--start-server") err = set("StartServer")
    else if (a === "--stop-server") err = set("StopServer")
    else if (a === "-V" || a === "--version") err = set("Version")
    else if (a === "-h" || a === "--help") err = set("Help")
    else if (a === "--stats-format" || a.startsWith("--stats-format=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i]
      if (v !== "text" && v !== "json") return new UsageError({ message: `--stats-format takes text or json, not "${v ?? ""}"` })
      format = v
    } else return new UsageError({ message: `unknown option "${a}" (see --help)` })
    if (err !== undefined) return err
  }
  switch (action) {
    case undefined:
      return new UsageError({ message: "no compiler and no option given (see --help)" })
    case "ShowStats":
      return { _tag: action, format, advanced }
    case "StopServer":
      return { _tag: action, format }
    default:
      return { _tag: action }
  }
}

/** What --show-stats prints with no daemon running: zeros, and the settings a daemon would use. */
const emptyReport = (processEnv: Env): StatsReport => {
  const { env, notice } = effectiveConfig(processEnv)
  const settings = parseDaemonSettings(env)
  const dir = settings instanceof Error ? env["SCCACHE_DIR"] || defaultCacheDir(env) : settings.cacheDir
  return {
    stats: emptyStats(),
    cache_location: `Local disk: "${dir}"${notice === undefined ? "" : ` (${notice})`}`,
    basedirs: settings instanceof Error ? [] : settings.basedirs,
    use_preprocessor_cache_mode: settings instanceof Error ? true : settings.direct,
    cache_size: null,
    max_cache_size: settings instanceof Error ? null : settings.maxCacheSize,
    version: VERSION
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const print = (format: "text" | "json", r: StatsReport, advanced = false) =>
  Effect.sync(() => process.stdout.write(format === "json" ? formatStatsJson(r) : formatStatsText(r, advanced)))

/** For the entry point, which imports no Effect of its own. */
export const runCommandMain = (cmd: Command, env: Env, entry: string): Promise<number> =>
  Effect.runPromise(runCommand(cmd, env).pipe(Effect.provide(clientLayer(env, entry))))

/** Runs one command; the exit code comes back. */
export const runCommand = (cmd: Command, env: Env) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const fail = (message: string) =>
      Effect.sync(() => {
        process.stderr.write(`sccache-ts: error: ${message}\n`)
        return 2
      })
    switch (cmd._tag) {
      case "Help":
        process.stdout.write(USAGE)
        return 0
      case "Version":
        process.stdout.write(`sccache-ts ${VERSION}\n`)
        return 0
      case "ShowStats": {
        // Like sccache: with no daemon running, the counters are zero and none is started.
        const reply = yield* client.request({ type: "stats", build: BUILD_ID }, { start: false }).pipe(Effect.result)
        if (reply._tag === "Success" && reply.success.type === "stats") {
          yield* print(cmd.format, reply.success.stats as StatsReport, cmd.advanced)
        } else yield* print(cmd.format, emptyReport(env), cmd.advanced)
        return 0
      }
      case "ZeroStats": {
        const reply = yield* client.request({ type: "zero-stats", build: BUILD_ID }).pipe(Effect.result)
        if (reply._tag === "Failure") return yield* fail(reply.failure.message)
        process.stdout.write("Statistics zeroed.\n")
        return 0
      }
      case "Explain": {
        const [name, ...rest] = cmd.compiler
        const exe = name === undefined ? undefined : resolveCompiler(name, env["PATH"], process.cwd(), process.argv[2] ?? "")
        if (name !== undefined && exe === undefined) return yield* fail(`cannot find compiler "${name}"`)
        const compile = exe === undefined ? {} : { compile: compileRequest(exe, rest, env) }
        const reply = yield* client.request({ type: "explain", build: BUILD_ID, ...compile }, { start: false }).pipe(Effect.result)
        if (reply._tag === "Failure") {
          process.stdout.write("no daemon is running: nothing is known about earlier compiles\n")
          return 0
        }
        if (reply.success.type !== "explained") return yield* fail(`the daemon answered ${reply.success.type}`)
        process.stdout.write(reply.success.lines.map((l) => `${l}\n`).join(""))
        return 0
      }
      case "StartServer": {
        const reply = yield* client.request({ type: "stats", build: BUILD_ID }).pipe(Effect.result)
        if (reply._tag === "Failure") return yield* fail(`the daemon did not start: ${reply.failure.message}`)
        return 0
      }
      case "StopServer": {
        const stats = yield* client.request({ type: "stats", build: BUILD_ID }, { start: false }).pipe(Effect.result)
        if (stats._tag === "Failure") return yield* fail("no daemon is running")
        yield* client.request({ type: "shutdown", build: BUILD_ID }, { start: false }).pipe(Effect.ignore)
        // Return once it has exited (it first finishes the work it has), as a script would expect.
        const pid = stats.success.type === "stats" ? (stats.success.stats as StatsReport).pid : undefined
        for (let i = 0; pid !== undefined && i < 1000 && isAlive(pid); i++) yield* Effect.sleep(10)
        if (stats.success.type === "stats") yield* print(cmd.format, stats.success.stats as StatsReport)
        return 0
      }
    }
  })
