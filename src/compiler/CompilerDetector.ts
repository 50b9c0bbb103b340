import { Context, Data, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fss from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { makeMemo } from "../pipeline/Keyed.ts"
import { CompilerRunner, type RunOptions } from "./CompilerRunner.ts"

export type CompilerFamily = "gcc" | "clang" | "rustc" | "nvcc"

export class UnsupportedCompiler extends Data.TaggedError("UnsupportedCompiler")<{ readonly exe: string; readonly message: string }> {}

export interface CompilerInfo {
  readonly family: CompilerFamily
  /** Digest of the binary's bytes and its version text: a changed compiler never reuses old entries. */
  readonly identity: string
  readonly version: string
}

/** Pure: the family from the executable's name and its `--version` text. */
export const familyOf = (exe: string, versionText: string): CompilerFamily | undefined => {
  const base = path.basename(exe)
  if (/^rustc(\.exe)?$/.test(base) || /^clippy-driver/.test(base)) return "rustc"
  if (/^nvcc(\.exe)?$/.test(base)) return "nvcc"
  if (/clang version|Apple LLVM/.test(versionText)) return "clang"
  if (/Free Software Foundation|\(GCC\)|^(gcc|g\+\+|cc|c\+\+)(-[\d.]+)? \(/m.test(versionText)) return "gcc"
  return undefined
}

/** Finds out what compiler a path is; memoised per (path, inode, size, mtime, ctime). */
export class CompilerDetector extends Context.Service<CompilerDetector, {
  readonly detect: (exe: string, opts: RunOptions) => Effect.Effect<CompilerInfo, UnsupportedCompiler>
}>()("sccache-ts/compiler/CompilerDetector") {
  static readonly layer = Layer.effect(CompilerDetector, Effect.gen(function*() {
    const runner = yield* CompilerRunner

    const probe = Effect.fn("CompilerDetector.probe")(function*(exe: string, real: string, opts: RunOptions) {
      const bytes = yield* Effect.tryPromise({
        try: () => fs.readFile(real),
        catch: (e) => new UnsupportedCompiler({ exe, message: String(e) })
      })
      const args = path.basename(exe).startsWith("rustc") ? ["-vV"] : ["--version"]
      const out = yield* runner.run(exe, args, { cwd: opts.cwd, env: { ...opts.env, LC_ALL: "C" } }).pipe(
        Effect.mapError((e) => new UnsupportedCompiler({ exe, message: e.message }))
      )
      const version = out.stdout.toString("utf8") + out.stderr.toString("utf8")
      const family = familyOf(exe, version)
      if (family === undefined || out.exitCode !== 0) {
        return yield* new UnsupportedCompiler({ exe, message: `not a compiler sccache-ts knows (${version.split("\n")[0]})` })
      }
      const identity = createHash("sha256").update(bytes).update("\0").update(version).digest("hex")
      return { family, identity, version }
    })

    // Failures are not kept: a compiler being installed is asked again.
    const memo = yield* makeMemo(({ exe, real, opts }: { exe: string; real: string; opts: RunOptions }) => probe(exe, real, opts), { capacity: 256 })

    return CompilerDetector.of({
      detect: Effect.fn("CompilerDetector.detect")(function*(exe, opts) {
        // Synchronous: two calls on every request, each cheaper than a trip through the thread pool.
        const { real, st } = yield* Effect.try({
          try: () => {
            const real = fss.realpathSync.native(exe)
            return { real, st: fss.statSync(real, { bigint: true }) }
          },
          catch: (e) => new UnsupportedCompiler({ exe, message: String(e) })
        })
        // The name matters too: clang++ is clang under another name, and behaves differently.
        const memoKey = `${exe}\0${real}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`
        return yield* memo(memoKey, { exe, real, opts })
      })
    })
  }))
}
