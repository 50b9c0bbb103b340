import { Effect, Layer } from "effect"
import type { Env } from "../config/Config.ts"
import type { Response } from "../protocol/Messages.ts"
import { BUILD_ID } from "../version.ts"
import { DaemonClient } from "./DaemonClient.ts"
import { LocalCompiler } from "./LocalCompiler.ts"
import { resolveCompiler } from "./ResolveCompiler.ts"

const writeAll = (stream: NodeJS.WriteStream, data: Buffer) =>
  Effect.callback<void>((resume) => {
    if (data.length === 0) return resume(Effect.void)
    stream.write(data, () => resume(Effect.void))
  })

/** The compile path of the client: ask the daemon, replay its answer, or run the compiler here. */
export const compile = (compilerName: string, args: ReadonlyArray<string>, env: Env) =>
  Effect.gen(function*() {
    const local = yield* LocalCompiler
    const cwd = process.cwd()
    const exe = resolveCompiler(compilerName, env["PATH"], cwd, process.argv[1]!)
    if (exe === undefined) {
      process.stderr.write(`sccache-ts: error: cannot find compiler "${compilerName}"\n`)
      return 2
    }
    if (env["SCCACHE_DISABLE"] === "1") return yield* local.run(exe, args)
    const client = yield* DaemonClient
    const reply: Response | undefined = yield* client.request({
      type: "compile",
      build: BUILD_ID,
      exe,
      args,
      cwd,
      env: env as Record<string, string>,
      umask: process.umask()
    }).pipe(Effect.orElseSucceed(() => undefined))
    if (reply?.type === "compiled") {
      yield* writeAll(process.stdout, Buffer.from(reply.stdout, "base64"))
      yield* writeAll(process.stderr, Buffer.from(reply.stderr, "base64"))
      return reply.exitCode
    }
    return yield* local.run(exe, args)
  })

export const clientLayer = (env: Env, entry: string) =>
  Layer.mergeAll(DaemonClient.layer(env, entry), LocalCompiler.layer)
