import { Context, Effect, Layer } from "effect"
import { spawn } from "node:child_process"

/**
 * Runs the real compiler on the client's own terminal: for what the daemon can't cache, and
 * whenever the daemon can't help. Output, colours and exit status are the compiler's own.
 */
export class LocalCompiler extends Context.Service<LocalCompiler, {
  readonly run: (exe: string, args: ReadonlyArray<string>) => Effect.Effect<number>
}>()("sccache-ts/client/LocalCompiler") {
  static readonly layer = Layer.succeed(LocalCompiler, LocalCompiler.of({
    run: (exe, args) =>
      Effect.callback<number>((resume) => {
        const child = spawn(exe, args, { stdio: "inherit" })
        child.on("error", (e: NodeJS.ErrnoException) => {
          process.stderr.write(`sccache-ts: error: cannot run ${exe}: ${e.message}\n`)
          resume(Effect.succeed(e.code === "ENOENT" ? 127 : 126))
        })
        child.on("close", (code, signal) => {
          // Die of the same signal, so the caller sees what a direct run would have shown.
          if (signal !== null) {
            process.removeAllListeners(signal)
            process.kill(process.pid, signal)
          }
          resume(Effect.succeed(code ?? 1))
        })
      })
  }))
}
