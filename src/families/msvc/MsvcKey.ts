import * as path from "node:path"
import { keyEnv } from "../../cache/CKey.ts"
import { KeyBuilder } from "../../cache/KeyBuilder.ts"
import type { CompilerInfo } from "../../compiler/CompilerDetector.ts"
import type { MsvcCompilation } from "./MsvcArgs.ts"

/** Bumped whenever what goes into an MSVC key changes. */
const VERSION = "sccache-ts/msvc/1"

/** Variables the cl driver reads: CL and _CL_ add arguments, INCLUDE and EXTERNAL_INCLUDE directories. */
export const MSVC_ENV = ["CL", "_CL_", "INCLUDE", "EXTERNAL_INCLUDE"]

const envOf = (env: Readonly<Record<string, string>>) =>
  [...keyEnv(env), ...MSVC_ENV.filter((v) => env[v] !== undefined).map((v) => `${v}=${env[v]}`)]

interface Common {
  readonly compiler: CompilerInfo
  /** The name it was called by: clang-cl and clang are one binary. */
  readonly driver: string
  readonly compilation: MsvcCompilation
  /** The working directory, absolute. */
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

const common = (k: Common, kind: string) => {
  const b = new KeyBuilder()
    .field("version", VERSION)
    .field("kind", kind)
    .field("compiler", k.compiler.identity)
    .field("driver", path.basename(k.driver))
    .field("language", k.compilation.language)
    .list("env", envOf(k.env))
  // CodeView (/Z7) names the working directory and the object's own path.
  if (k.compilation.recordsPaths) b.field("cwd", k.cwd).field("output", path.resolve(k.cwd, k.compilation.output))
  return b
}

/** Pure: the result key in preprocessor mode: the preprocessed text and what else shapes the object. */
export const msvcKey = (k: Common & { readonly sourceDigest: string }): string =>
  common(k, "result").list("args", k.compilation.keyArgs).field("source", k.sourceDigest).digest()

/** Pure: the manifest key in direct mode: every argument, and the source by path and content. */
export const msvcManifestKey = (k: Common & { readonly input: string; readonly inputDigest: string }): string =>
  common(k, "manifest").list("args", k.compilation.directArgs).field("input", k.input).field("input-digest", k.inputDigest).digest()
