import { Context, Data, Effect, Layer } from "effect"
import type { Env } from "../config/Config.ts"
import { withConfigFile } from "../config/ConfigFile.ts"
import { socketPath } from "../config/SocketPath.ts"
import type { Request, Response } from "../protocol/Messages.ts"
import { ask } from "./Daemon.ts"

/** The daemon could not be reached, or went away before it answered. */
export class DaemonUnavailable extends Data.TaggedError("DaemonUnavailable")<{ readonly message: string }> {}

/** Talks to the daemon, starting one when none answers and replacing one of another build. */
export class DaemonClient extends Context.Service<DaemonClient, {
  readonly request: (req: Request, opts?: { readonly start?: boolean }) => Effect.Effect<Response, DaemonUnavailable>
}>()("sccache-ts/client/DaemonClient") {
  /** `entry` is the script a new daemon runs: this very bundle. The config file counts here (its startup timeout). */
  static readonly layer = (processEnv: Env, entry: string, env = withConfigFile(processEnv)) =>
    Layer.succeed(DaemonClient, DaemonClient.of({
      request: (req, opts) =>
        Effect.promise(() => ask(socketPath(env), req, { env, entry, start: opts?.start !== false })).pipe(
          Effect.flatMap((asked) => {
            switch (asked._tag) {
              case "Answer":
                return Effect.succeed(asked.response)
              case "NoDaemon":
                return Effect.fail(new DaemonUnavailable({ message: `no daemon (${asked.code})` }))
              case "Lost":
                return Effect.fail(new DaemonUnavailable({ message: asked.message }))
              case "Silent":
                return Effect.fail(new DaemonUnavailable({ message: "the daemon sent nothing for 10 s" }))
              case "Unavailable":
                return Effect.fail(new DaemonUnavailable({ message: asked.reason }))
            }
          })
        )
    }))
}
