import { Context, Effect, Layer } from "effect"
import { parseSearchDirs } from "../cache/Manifest.ts"
import { CompilerRunner, type RunOptions } from "./CompilerRunner.ts"
import type { CompilerInfo } from "./CompilerDetector.ts"
import type { GccCompilation } from "./GccArgs.ts"
import { INCLUDE_PATH_ENV, includeDirs } from "./GccOptions.ts"
import { KeyBuilder } from "../cache/KeyBuilder.ts"

const X_NAME: Record<string, string> = { "cpp-output": "c", "c++-cpp-output": "c++" }

/** The compiler's include search path for a set of arguments, asked once (`-E -v`) and remembered. */
export class IncludeSearch extends Context.Service<IncludeSearch, {
  readonly dirs: (exe: string, compiler: CompilerInfo, c: GccCompilation, opts: RunOptions) => Effect.Effect<ReadonlyArray<string> | undefined>
}>()("sccache-ts/compiler/IncludeSearch") {
  static readonly layer = Layer.effect(IncludeSearch, Effect.gen(function*() {
    const runner = yield* CompilerRunner
    const memo = new Map<string, ReadonlyArray<string> | undefined>()
    return IncludeSearch.of({
      dirs: (exe, compiler, c, opts) => {
        const lang = X_NAME[c.language] ?? c.language
        const memoKey = new KeyBuilder()
          .field("compiler", compiler.identity)
          .field("exe", exe)
          .field("cwd", opts.cwd)
          .field("lang", lang)
          .list("args", c.probeArgs)
          .list("env", INCLUDE_PATH_ENV.map((v) => `${v}=${opts.env[v] ?? ""}`))
          .digest()
        if (memo.has(memoKey)) return Effect.succeed(memo.get(memoKey))
        return runner.run(exe, [...c.probeArgs, "-x", lang, "-E", "-v", "/dev/null"], { cwd: opts.cwd, env: { ...opts.env, LC_ALL: "C" } }).pipe(
          Effect.map((out) => {
            const listed = out.exitCode === 0 ? parseSearchDirs(out.stderr.toString("utf8")) : undefined
            // The user's directories first, in their order: the compiler prints the ones that exist only.
            return listed === undefined ? undefined : [...new Set([...includeDirs(c.probeArgs), ...listed])]
          }),
          Effect.orElseSucceed(() => undefined),
          Effect.tap((dirs) => Effect.sync(() => memo.set(memoKey, dirs)))
        )
      }
    })
  }))
}
