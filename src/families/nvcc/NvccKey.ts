import { keyEnv } from "../../cache/CKey.ts"
import { KeyBuilder } from "../../cache/KeyBuilder.ts"
import type { NvccCompilation } from "./NvccArgs.ts"

const VERSION = "sccache-ts/nvcc/1"

/** Variables nvcc reads: flags put before and after the command line, and the default host compiler. */
export const NVCC_ENV = ["NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS", "NVCC_CCBIN"]

export interface NvccKeyInputs {
  /** nvcc's identity (its binary and version). */
  readonly nvcc: string
  /** The host compiler's identity. */
  readonly host: string
  readonly compilation: NvccCompilation
  /** The source's path as the key sees it, and its digest. */
  readonly input: string
  readonly inputDigest: string
  /** The working directory (nvcc's objects name it). */
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

/**
 * Pure: the manifest key of an nvcc compile; the result key adds every header the compile read,
 * as nvcc's own dependency list names them (device and host passes alike).
 */
export const nvccManifestKey = (k: NvccKeyInputs): string =>
  new KeyBuilder()
    .field("version", VERSION)
    .field("nvcc", k.nvcc)
    .field("host", k.host)
    .field("language", k.compilation.language)
    .list("args", k.compilation.keyArgs)
    .field("input", k.input)
    .field("input-digest", k.inputDigest)
    .field("cwd", k.cwd)
    .list("env", [...keyEnv(k.env), ...NVCC_ENV.filter((v) => k.env[v] !== undefined).map((v) => `${v}=${k.env[v]}`)])
    .digest()
