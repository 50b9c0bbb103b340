import * as path from "node:path"
import { type GccCompilation, mappedCwd } from "../compiler/GccArgs.ts"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import { KeyBuilder } from "./KeyBuilder.ts"

/** Bumped whenever what goes into a C/C++ key changes, so old entries are simply never found. */
const C_KEY_VERSION = "sccache-ts/c/2"

/**
 * Environment variables that change what the compiler produces but not the preprocessed text:
 * ccache's and sccache's lists together (LANG and LC_* translate diagnostics, which are replayed).
 * Not SOURCE_DATE_EPOCH: it only sets __DATE__ and __TIME__, whose expansion is in the preprocessed
 * text, and direct mode hands every file that uses them to the preprocessor.
 */
export const KEY_ENV = [
  "SCCACHE_C_CUSTOM_CACHE_BUSTER", "SCCACHE_EXTRAFILES", "SDKROOT", "CCC_OVERRIDE_OPTIONS", "COMPILER_PATH", "GCC_COMPARE_DEBUG",
  "GCC_EXEC_PREFIX", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
  // The colors gcc gives the diagnostics that are stored (empty: none).
  "GCC_COLORS"
]

export const keyEnv = (env: Readonly<Record<string, string>>): Array<string> =>
  Object.keys(env)
    .filter((k) => KEY_ENV.includes(k) || k.endsWith("_DEPLOYMENT_TARGET"))
    .sort()
    .map((k) => `${k}=${env[k]}`)

/**
 * Pure: `env` with `SCCACHE_EXTRAFILES` (paths, `:`-separated, relative to `cwd`) replaced by
 * the files' digests, so keys follow the files' contents, not their names; or why it can't be.
 */
export const withExtraFiles = (
  env: Readonly<Record<string, string>>,
  cwd: string,
  digestOf: (file: string) => string | undefined
): Readonly<Record<string, string>> | { readonly missing: string } => {
  const list = env["SCCACHE_EXTRAFILES"]
  if (list === undefined) return env
  const digests: Array<string> = []
  for (const file of list.split(":").filter((f) => f !== "")) {
    const digest = digestOf(path.resolve(cwd, file))
    if (digest === undefined) return { missing: file }
    digests.push(digest)
  }
  return { ...env, SCCACHE_EXTRAFILES: digests.join(",") }
}

export interface CKeyInputs {
  readonly compiler: CompilerInfo
  /** The name the compiler was called by: clang++ and clang are one binary. */
  readonly driver: string
  readonly compilation: GccCompilation
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** `name\0digest` of each file an option names whose content changes the result. */
  readonly files: ReadonlyArray<string>
  /** sha256 of the preprocessed text (or of the input itself when it needs no preprocessing). */
  readonly sourceDigest: string
  /** This machine's CPU, for -march=native. */
  readonly cpu: string
}

/** Pure: the result key of a C/C++ compile in preprocessor mode. */
export const cKey = (k: CKeyInputs): string => {
  const c = k.compilation
  const b = new KeyBuilder()
    .field("version", C_KEY_VERSION)
    .field("compiler", k.compiler.identity)
    .field("driver", path.basename(k.driver))
    .field("language", c.language)
    .list("args", c.keyArgs)
    .list("env", keyEnv(k.env))
    .list("files", k.files)
    .field("source", k.sourceDigest)
  if (c.recordsCwd) b.field("cwd", mappedCwd(k.cwd, c.prefixMaps))
  if (c.outputPathInKey) b.field("output", path.resolve(k.cwd, c.output))
  if (c.nativeCpu) b.field("cpu", k.cpu)
  return b.digest()
}
