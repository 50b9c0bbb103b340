import { Effect, Layer } from "effect"
import type { Env } from "../config/Config.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { DaemonClient } from "./DaemonClient.ts"
import { type Exchanged, replay } from "./Exchange.ts"
import { LocalCompiler } from "./LocalCompiler.ts"

/**
 * The compile path after the hot path could not finish it: start a daemon and ask again, or run
 * the compiler here. `first` is what the hot path's one attempt gave, so nothing is asked twice.
 */
export const compile = (request: CompileRequest, first: Exchanged | undefined) =>
  Effect.gen(function*() {
    const local = yield* LocalCompiler
    const runHere = local.run(request.exe, request.args)
    if (first === undefined) return yield* runHere
    // The daemon said it can't help, or died in the middle: never ask it again for this compile.
    if (first._tag === "Lost" || (first._tag === "Answer" && first.response.type !== "version-mismatch")) return yield* runHere
    const client = yield* DaemonClient
    const reply = yield* client.request(request).pipe(Effect.orElseSucceed(() => undefined))
    if (reply?.type === "compiled") return yield* Effect.promise(() => replay(reply))
    return yield* runHere
  })

export const clientLayer = (env: Env, entry: string) =>
  Layer.mergeAll(DaemonClient.layer(env, entry), LocalCompiler.layer)

/** For the entry point, which imports no Effect of its own. */
export const runCompile = (request: CompileRequest, first: Exchanged | undefined, env: Env, entry: string): Promise<number> =>
  Effect.runPromise(compile(request, first).pipe(Effect.provide(clientLayer(env, entry))))
