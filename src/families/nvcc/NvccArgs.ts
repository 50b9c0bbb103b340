import * as path from "node:path"
import { type Language, languageOfFile } from "../../compiler/Language.ts"

/**
 * Pure argument analysis for nvcc. Options take `-name value`, `--long-name value` or
 * `--long-name=value`; `-I`, `-D`, `-U`, `-L`, `-l`, `-O` also glue their value on.
 */

export interface NvccCompilation {
  readonly language: Language
  readonly input: string
  /** The object, PTX, cubin or fatbin. */
  readonly output: string
  /** Every argument but the input and the output's name: the key's arguments. */
  readonly keyArgs: ReadonlyArray<string>
  /** `-ccbin`: the host compiler (a path, a name on PATH, or a directory holding it). */
  readonly hostCompiler: string | undefined
  /** `-I` and `-isystem` directories, in order. */
  readonly includeDirs: ReadonlyArray<string>
}

export type NvccParse =
  | { readonly _tag: "Cacheable"; readonly compilation: NvccCompilation }
  | { readonly _tag: "NotCacheable"; readonly reason: string; readonly nonCompilation?: boolean }

const notCacheable = (reason: string, nonCompilation = false): NvccParse =>
  ({ _tag: "NotCacheable", reason, ...(nonCompilation ? { nonCompilation } : {}) })

type Role = "mode" | "output" | "host" | "include" | "value" | { readonly reason: string }

/** The option table: [short, long, takes a value, role]. */
const OPTIONS: ReadonlyArray<readonly [string, string, boolean, Role]> = [
  ["c", "compile", false, "mode"],
  ["dc", "device-c", false, "mode"],
  ["ptx", "ptx", false, "mode"],
  ["cubin", "cubin", false, "mode"],
  ["fatbin", "fatbin", false, "mode"],
  ["o", "output-file", true, "output"],
  ["ccbin", "compiler-bindir", true, "host"],
  ["I", "include-path", true, "include"],
  ["isystem", "system-include", true, "include"],
  ["arch", "gpu-architecture", true, "value"],
  ["code", "gpu-code", true, "value"],
  ["gencode", "generate-code", true, "value"],
  ["Xcompiler", "compiler-options", true, "value"],
  ["Xptxas", "ptxas-options", true, "value"],
  ["Xnvlink", "nvlink-options", true, "value"],
  ["Xlinker", "linker-options", true, "value"],
  ["D", "define-macro", true, "value"],
  ["U", "undefine-macro", true, "value"],
  ["include", "pre-include", true, "value"],
  ["L", "library-path", true, "value"],
  ["l", "library", true, "value"],
  ["x", "x", true, "value"],
  ["std", "std", true, "value"],
  ["O", "optimize", true, "value"],
  ["maxrregcount", "maxrregcount", true, "value"],
  ["rdc", "relocatable-device-code", true, "value"],
  ["t", "threads", true, "value"],
  ["ftz", "ftz", true, "value"],
  ["prec-div", "prec-div", true, "value"],
  ["prec-sqrt", "prec-sqrt", true, "value"],
  ["fmad", "fmad", true, "value"],
  ["default-stream", "default-stream", true, "value"],
  ["diag-suppress", "diag-suppress", true, "value"],
  ["diag-error", "diag-error", true, "value"],
  ["diag-warn", "diag-warn", true, "value"],
  ["Xcudafe", "cudafe-options", true, "value"],
  ["Xfatbin", "fatbin-options", true, "value"],
  ["time", "time", true, { reason: "--time" }],
  ["E", "preprocess", false, { reason: "-E" }],
  ["M", "generate-dependencies", false, { reason: "-M" }],
  ["MM", "generate-nonsystem-dependencies", false, { reason: "-M" }],
  ["MD", "generate-dependencies-with-compile", false, { reason: "-MD with nvcc" }],
  ["MMD", "generate-nonsystem-dependencies-with-compile", false, { reason: "-MD with nvcc" }],
  ["MF", "dependency-output", true, { reason: "-MD with nvcc" }],
  ["dryrun", "dryrun", false, { reason: "-dryrun" }],
  ["keep", "keep", false, { reason: "-keep" }],
  ["keep-dir", "keep-dir", true, { reason: "-keep" }],
  ["save-temps", "save-temps", false, { reason: "-keep" }],
  ["lib", "lib", false, { reason: "linking" }],
  ["link", "link", false, { reason: "linking" }],
  ["dlink", "device-link", false, { reason: "linking" }],
  ["run", "run", false, { reason: "-run" }],
  ["cuda", "cuda", false, { reason: "-cuda" }],
  ["optix-ir", "optix-ir", false, { reason: "-optix-ir" }],
  ["odir", "output-directory", true, { reason: "-odir" }],
  ["optf", "options-file", true, { reason: "--options-file" }]
]

const BY_NAME = new Map(OPTIONS.flatMap((o) => [[o[0], o], [o[1], o]] as const))
/** Short options that also take their value glued on (`-Iinc`, `-DX=1`, `-O3`). */
const GLUED = ["I", "D", "U", "L", "l", "O"]

const EXTENSION: Readonly<Record<string, string>> = { c: ".o", dc: ".o", ptx: ".ptx", cubin: ".cubin", fatbin: ".fatbin" }

export const parseNvccArgs = (args: ReadonlyArray<string>): NvccParse => {
  let mode: string | undefined
  let output: string | undefined
  let hostCompiler: string | undefined
  const inputs: Array<string> = []
  const keyArgs: Array<string> = []
  const includeDirs: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (!arg.startsWith("-") || arg === "-") {
      if (arg === "-") return notCacheable("input from stdin")
      inputs.push(arg)
      continue
    }
    const body = arg.replace(/^--?/, "")
    const eq = body.indexOf("=")
    let name = eq < 0 ? body : body.slice(0, eq)
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1)
    let spec = BY_NAME.get(name)
    if (spec === undefined) {
      const glued = GLUED.find((g) => body.startsWith(g) && body.length > g.length)
      if (glued !== undefined) {
        name = glued
        value = body.slice(glued.length)
        spec = BY_NAME.get(glued)
      }
    }
    if (spec === undefined) {
      // An option the table leaves alone changes the output as far as anyone knows: it goes into the key.
      keyArgs.push(arg)
      continue
    }
    const [short, , takesValue, role] = spec
    const whole = [arg]
    if (takesValue && value === undefined) {
      value = args[++i]
      if (value === undefined) return notCacheable(`missing argument to ${arg}`)
      whole.push(value)
    }
    if (typeof role === "object") return notCacheable(role.reason)
    switch (role) {
      case "mode":
        mode = short
        keyArgs.push(...whole)
        continue
      case "output":
        output = value
        continue
      case "host":
        hostCompiler = value
        break
      case "include":
        includeDirs.push(value!)
        break
      case "value":
        break
    }
    keyArgs.push(...whole)
  }
  if (mode === undefined) return notCacheable(inputs.length === 0 ? "no input file" : "linking", inputs.length > 0)
  if (inputs.length === 0) return notCacheable("no input file")
  if (inputs.length > 1) return notCacheable("multiple input files")
  const input = inputs[0]!
  const language = languageOfFile(input)
  if (language === undefined) return notCacheable("unknown source language")
  return {
    _tag: "Cacheable",
    compilation: {
      language,
      input,
      output: output ?? path.basename(input).replace(/\.[^.]*$/, "") + EXTENSION[mode]!,
      keyArgs,
      hostCompiler,
      includeDirs
    }
  }
}
