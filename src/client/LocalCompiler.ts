import { Context, Effect, Layer } from "effect"
import { runHere } from "./RunHere.ts"

/**
 * Runs the real compiler on the client's own terminal: for what the daemon can't cache, and
 * whenever the daemon can't help. Output, colours and exit status are the compiler's own.
 */
export class LocalCompiler extends Context.Service<LocalCompiler, {
  readonly run: (exe: string, args: ReadonlyArray<string>) => Effect.Effect<number>
}>()("sccache-ts/client/LocalCompiler") {
  static readonly layer = Layer.succeed(LocalCompiler, LocalCompiler.of({
    run: (exe, args) => Effect.promise(() => runHere(exe, args))
  }))
}
