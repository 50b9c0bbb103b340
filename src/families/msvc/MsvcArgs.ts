import * as path from "node:path"
import { languageOfFile } from "../../compiler/Language.ts"

/**
 * Pure argument analysis for cl.exe syntax (cl, clang-cl, `clang --driver-mode=cl`). Options
 * take `/` or `-`; input is the argv after the compiler, with `@file`s already expanded.
 */

export interface MsvcCompilation {
  readonly language: "c" | "c++"
  /** The source, as named on the command line (without a /Tc or /Tp in front). */
  readonly input: string
  /** The object file. */
  readonly output: string
  /** Arguments for the `/E` run that gives the key its text. */
  readonly preprocessArgs: ReadonlyArray<string>
  /** Arguments that change the object other than through the preprocessed text. */
  readonly keyArgs: ReadonlyArray<string>
  /** Every argument but the input and the object's name: the direct-mode key. */
  readonly directArgs: ReadonlyArray<string>
  /** Arguments that change the include search path (for `-v /E`, which lists it). */
  readonly probeArgs: ReadonlyArray<string>
  /** The `/I` directories, in order. */
  readonly includeDirs: ReadonlyArray<string>
  /** The user asked for `/showIncludes`: its lines are part of stdout. */
  readonly showIncludes: boolean
  /** /Z7 (CodeView in the object): the object names the working directory and its own path. */
  readonly recordsPaths: boolean
}

export type MsvcParse =
  | { readonly _tag: "Cacheable"; readonly compilation: MsvcCompilation }
  | { readonly _tag: "NotCacheable"; readonly reason: string; readonly nonCompilation?: boolean }

const notCacheable = (reason: string, nonCompilation = false): MsvcParse =>
  ({ _tag: "NotCacheable", reason, ...(nonCompilation ? { nonCompilation } : {}) })

/**
 * What an option is to the cache:
 * - `compile`: /c; `output`: names the object; `input`: /Tc, /Tp name a source;
 * - `pre`: its whole effect is in the preprocessed text (and the include search);
 * - `lang`: /TC, /TP; `show`: /showIncludes; `debug`: /Z7;
 * - `key`: changes the object, goes into the key;
 * - a string: not cacheable, for that reason.
 */
type Role = "compile" | "output" | "input" | "pre" | "lang" | "show" | "debug" | "key" | { readonly reason: string }

/** How an option takes its value: none, glued on, glued or the next argument, always the next argument. */
type Form = "flag" | "joined" | "joinedOrSeparate" | "separate"

interface OptionSpec {
  readonly name: string
  readonly form: Form
  readonly role: Role
}

const pch = { reason: "precompiled header" }

/** The option table: the cl options whose meaning matters to the cache (longest names win). */
const OPTIONS: ReadonlyArray<OptionSpec> = [
  { name: "c", form: "flag", role: "compile" },
  { name: "Fo:", form: "joinedOrSeparate", role: "output" },
  { name: "Fo", form: "joined", role: "output" },
  { name: "o", form: "joinedOrSeparate", role: "output" },
  { name: "Tc", form: "joinedOrSeparate", role: "input" },
  { name: "Tp", form: "joinedOrSeparate", role: "input" },
  { name: "TC", form: "flag", role: "lang" },
  { name: "TP", form: "flag", role: "lang" },
  { name: "I", form: "joinedOrSeparate", role: "pre" },
  { name: "external:I", form: "joinedOrSeparate", role: "pre" },
  { name: "D", form: "joinedOrSeparate", role: "pre" },
  { name: "U", form: "joinedOrSeparate", role: "pre" },
  { name: "FI", form: "joinedOrSeparate", role: "pre" },
  { name: "X", form: "flag", role: "pre" },
  { name: "u", form: "flag", role: "pre" },
  { name: "showIncludes", form: "flag", role: "show" },
  { name: "showIncludes:user", form: "flag", role: "show" },
  { name: "Z7", form: "flag", role: "debug" },
  { name: "Zi", form: "flag", role: { reason: "/Zi (program database)" } },
  { name: "ZI", form: "flag", role: { reason: "/Zi (program database)" } },
  { name: "Fd", form: "joined", role: "key" },
  { name: "Yc", form: "joined", role: pch },
  { name: "Yu", form: "joined", role: pch },
  { name: "Fp", form: "joined", role: pch },
  { name: "E", form: "flag", role: { reason: "/E" } },
  { name: "EP", form: "flag", role: { reason: "/E" } },
  { name: "P", form: "flag", role: { reason: "/P" } },
  { name: "Zs", form: "flag", role: { reason: "/Zs" } },
  { name: "Fa", form: "joined", role: { reason: "/Fa (listing)" } },
  { name: "FA", form: "joined", role: { reason: "/Fa (listing)" } },
  { name: "Fi", form: "joined", role: { reason: "/P" } },
  { name: "Fm", form: "joined", role: { reason: "/Fm" } },
  { name: "FR", form: "joined", role: { reason: "/FR (browse information)" } },
  { name: "Fr", form: "joined", role: { reason: "/FR (browse information)" } },
  { name: "sourceDependencies", form: "joinedOrSeparate", role: { reason: "/sourceDependencies" } },
  { name: "doc", form: "joined", role: { reason: "/doc" } },
  { name: "link", form: "flag", role: { reason: "/link" } },
  { name: "clang:", form: "joined", role: "key" },
  { name: "Xclang", form: "separate", role: "key" },
  { name: "MP", form: "joined", role: "key" }
].sort((a, b) => b.name.length - a.name.length) as ReadonlyArray<OptionSpec>

/** clang options that, passed through /clang: or -Xclang, make the run something other than one compile. */
const CLANG_MODES = /^-(E|S|M.*|o.*|fsyntax-only|save-temps.*|emit-.*|ftime-trace.*|fmodules.*|include-pch|###|v)$/

/** The option an argument spells, with its value, or undefined for an input (or an option the table leaves alone). */
const matchOption = (arg: string, next: string | undefined, colonOutput: boolean): { spec: OptionSpec; value: string | undefined; used: number } | undefined => {
  if (!(arg.startsWith("/") || arg.startsWith("-")) || arg.length < 2) return undefined
  const body = arg.slice(1)
  for (const spec of OPTIONS) {
    // Drivers without the `/Fo:` spelling read it as /Fo with a name that starts with a colon.
    if (spec.name === "Fo:" && !colonOutput) continue
    // `-o` is clang's spelling only; `/o` is nothing.
    if (spec.name === "o" && !arg.startsWith("-")) continue
    if (spec.form === "flag") {
      if (body === spec.name) return { spec, value: undefined, used: 1 }
      continue
    }
    if (!body.startsWith(spec.name)) continue
    const glued = body.slice(spec.name.length)
    if (spec.form === "joined") return { spec, value: glued, used: 1 }
    if (spec.form === "separate") return body === spec.name ? { spec, value: next, used: 2 } : undefined
    return glued !== "" ? { spec, value: glued, used: 1 } : { spec, value: next, used: 2 }
  }
  return undefined
}

const SOURCE = /\.(c|cc|cpp|cxx|c\+\+|C|CPP)$/

/**
 * Pure: `isDir` says whether a path is an existing directory (`/Fo` names a directory when it
 * ends with a separator or is one); `colonOutput`, whether the driver knows the `/Fo:` spelling.
 */
export const parseMsvcArgs = (args: ReadonlyArray<string>, isDir: (p: string) => boolean = () => false, colonOutput = true): MsvcParse => {
  let compile = false
  let output: string | undefined
  let forced: "c" | "c++" | undefined
  let showIncludes = false
  let recordsPaths = false
  // A /Tc or /Tp source has its language whatever its name; another takes /TC, /TP or its extension.
  const inputs: Array<{ file: string; language: "c" | "c++" | undefined; explicit: boolean }> = []
  const preprocessArgs: Array<string> = []
  const keyArgs: Array<string> = []
  const directArgs: Array<string> = []
  const probeArgs: Array<string> = []
  const includeDirs: Array<string> = []

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const m = matchOption(arg, args[i + 1], colonOutput)
    if (m === undefined) {
      // Not an option the table knows: a source by its name, else an option that goes into the key.
      if (SOURCE.test(arg) || !(arg.startsWith("/") || arg.startsWith("-"))) {
        const lang = languageOfFile(arg)
        inputs.push({ file: arg, language: lang === "c" || lang === "c++" ? lang : undefined, explicit: false })
        preprocessArgs.push(arg)
        continue
      }
      preprocessArgs.push(arg)
      keyArgs.push(arg)
      directArgs.push(arg)
      probeArgs.push(arg)
      continue
    }
    const { spec, value, used } = m
    if (used === 2) {
      if (value === undefined) return notCacheable(`missing argument to ${arg}`)
      i++
    }
    const whole = used === 2 ? [arg, value!] : [arg]
    const role = spec.role
    if (typeof role === "object") return notCacheable(role.reason)
    if ((spec.name === "clang:" || spec.name === "Xclang") && CLANG_MODES.test(value ?? "")) return notCacheable(`${arg.slice(0, 1)}${spec.name} ${value}`)
    switch (role) {
      case "compile":
        compile = true
        keyArgs.push(...whole)
        directArgs.push(...whole)
        continue
      case "output":
        output = value
        continue
      case "input": {
        const lang = spec.name === "Tc" ? "c" : "c++"
        inputs.push({ file: value!, language: lang, explicit: true })
        preprocessArgs.push(...whole)
        continue
      }
      case "show":
        showIncludes = true
        keyArgs.push(...whole)
        directArgs.push(...whole)
        continue
      case "lang":
        forced = spec.name === "TC" ? "c" : "c++"
        break
      case "pre":
        if (spec.name === "I" || spec.name === "external:I") includeDirs.push(value!)
        preprocessArgs.push(...whole)
        directArgs.push(...whole)
        probeArgs.push(...whole)
        continue
      case "debug":
        recordsPaths = true
        break
      case "key":
        break
    }
    preprocessArgs.push(...whole)
    keyArgs.push(...whole)
    directArgs.push(...whole)
    probeArgs.push(...whole)
  }

  if (!compile) return notCacheable(inputs.length === 0 ? "no input file" : "linking", inputs.length > 0)
  if (inputs.length === 0) return notCacheable("no input file")
  if (inputs.length > 1) return notCacheable("multiple input files")
  const input = inputs[0]!
  const language = input.explicit ? input.language : forced ?? input.language
  if (language === undefined) return notCacheable("unknown source language")
  const stem = path.basename(input.file).replace(/\.[^.]*$/, "") + ".obj"
  const obj = output === undefined || output === ""
    ? stem
    : /[\\/]$/.test(output) || isDir(output) ? path.join(output, stem) : output
  return {
    _tag: "Cacheable",
    compilation: {
      language,
      input: input.file,
      output: obj,
      preprocessArgs: [...preprocessArgs, "/E"],
      keyArgs,
      directArgs,
      probeArgs,
      includeDirs,
      showIncludes,
      recordsPaths
    }
  }
}

/** What cl prints for each header under /showIncludes (clang-cl too), before the path. */
const NOTE = /^Note: including file: *(.*?)\r?$/

/** Pure: the headers named by /showIncludes lines in a compile's stdout, in order. */
export const parseShowIncludes = (stdout: string): Array<string> => {
  const out: Array<string> = []
  for (const line of stdout.split("\n")) {
    const m = NOTE.exec(line)
    if (m !== null && m[1] !== "") out.push(m[1]!)
  }
  return [...new Set(out)]
}

/** Pure: stdout without the /showIncludes lines (the cache asked for them, the user didn't). */
export const withoutShowIncludes = (stdout: string): string =>
  stdout.split(/(?<=\n)/).filter((line) => !NOTE.test(line.replace(/\n$/, ""))).join("")

/**
 * Pure: a response file split as the MSVC tools do: whitespace separates, double quotes group,
 * and backslashes are literal except before a quote (2n backslashes + `"` give n and a quote
 * that groups; 2n+1 give n and a literal quote).
 */
export const splitWindowsCommandLine = (text: string): Array<string> => {
  const out: Array<string> = []
  let cur = ""
  let inArg = false
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\") {
      let n = 0
      while (text[i] === "\\") {
        n++
        i++
      }
      if (text[i] === '"') {
        cur += "\\".repeat(Math.floor(n / 2))
        if (n % 2 === 1) cur += '"'
        else quoted = !quoted
      } else {
        cur += "\\".repeat(n)
        i--
      }
      inArg = true
    } else if (c === '"') {
      quoted = !quoted
      inArg = true
    } else if (!quoted && /\s/.test(c)) {
      if (inArg) out.push(cur)
      cur = ""
      inArg = false
    } else {
      cur += c
      inArg = true
    }
  }
  if (inArg) out.push(cur)
  return out
}
