import * as path from "node:path"
import { type ColorChoice, colorChoiceOf, envNotCacheable, keyFiles, lookupOption } from "./GccOptions.ts"
import { isPreprocessed, type Language, languageOfFile, languageOfX } from "./Language.ts"

/**
 * Pure argument analysis for gcc and clang (`gcc`, `g++`, `cc`, `c++`, `clang`, `clang++`).
 * Input is the argv after the compiler, with `@file`s already expanded, and the compile's environment
 * (gcc reads some of its options from there). What each option is comes from the table in GccOptions.ts.
 */

export type Family = "gcc" | "clang"

export interface DepOptions {
  /** -MD lists every header; -MMD and gcc's -Wp,-MMD leave system headers out. */
  readonly full: boolean
  /** Where the dependency file goes, relative to the cwd as the user wrote it. */
  readonly file: string
  /** -MT/-MQ as given, in order; empty means the compiler's default (the output file). */
  readonly targets: ReadonlyArray<string>
}

export interface GccCompilation {
  readonly language: Language
  readonly input: string
  /** The main output: object (`-c`) or assembly (`-S`). */
  readonly output: string
  /** Extra files the compile writes besides the output (.dwo, .gcno, .su), relative to the cwd. */
  readonly sideOutputs: ReadonlyArray<{ readonly role: string; readonly file: string }>
  readonly dep: DepOptions | undefined
  /** Arguments for the `-E` run that gives the key its text (and writes the .d, as the compile would). */
  readonly preprocessArgs: ReadonlyArray<string>
  /** Arguments that change the object other than through the preprocessed text. */
  readonly keyArgs: ReadonlyArray<string>
  /** Input the compiler reads without preprocessing: its bytes go into the key instead. */
  readonly hashInputDirectly: boolean
  /** -g or coverage notes: the output names the working directory, unless a prefix map hides it. */
  readonly recordsCwd: boolean
  /** `old=new` pairs from -fdebug-prefix-map / -ffile-prefix-map, in order. */
  readonly prefixMaps: ReadonlyArray<readonly [string, string]>
  /** The object embeds its own path (split DWARF, coverage data), so the output path is part of the key. */
  readonly outputPathInKey: boolean
  /** Profiling objects name their .gcda by absolute path: no path in this compile can be rebased. */
  readonly recordsOutputPath: boolean
  /** Files options name (from the option table) whose content changes the result, as written. */
  readonly keyFiles: ReadonlyArray<string>
  /** -march=native and friends: the object depends on this machine's CPU. */
  readonly nativeCpu: boolean
  /** Every argument but the input and the names of the output and .d file: the direct-mode key. */
  readonly directArgs: ReadonlyArray<string>
  /** Arguments for `-E -v` to list the include search path (no input, no dependency options). */
  readonly probeArgs: ReadonlyArray<string>
  /** Direct mode can model this compile (no -Xpreprocessor or -Wp forms it can't follow). */
  readonly directModeOk: boolean
  /** The object records the command line (-frecord-gcc-switches): paths in it can't be rebased. */
  readonly recordsSwitches: boolean
  /** The user's diagnostic colors (the last color option); kept out of the key. */
  readonly colors: ColorChoice
  /**
   * The compile is told to color, so one stored form serves terminals and pipes; not when the
   * object records its command line, which would then differ from a plain compile's.
   */
  readonly colorsForced: boolean
}

export type ParseResult =
  | { readonly _tag: "Cacheable"; readonly compilation: GccCompilation }
  | { readonly _tag: "NotCacheable"; readonly reason: string; readonly nonCompilation?: boolean }

const notCacheable = (reason: string, nonCompilation = false): ParseResult => ({
  _tag: "NotCacheable",
  reason,
  ...(nonCompilation ? { nonCompilation } : {})
})

/** Replaces the extension of a path (gcc's rule for .d, .dwo, .gcno, .su names). */
export const replaceExtension = (file: string, ext: string): string => {
  const e = path.extname(file)
  return (e === "" ? file : file.slice(0, -e.length)) + ext
}

const isDebugFlag = (a: string): boolean => a.startsWith("-g") && !a.startsWith("-gz") && !a.startsWith("-gsplit-dwarf") &&
  !a.startsWith("-gno-") && !a.startsWith("-gcolumn-info") && !a.startsWith("-grecord") && !a.startsWith("-gstrict") &&
  !a.startsWith("-gcc-toolchain")

export const parseGccArgs = (
  args: ReadonlyArray<string>,
  family: Family,
  env: Readonly<Record<string, string>> = {}
): ParseResult => {
  let compileMode: "-c" | "-S" | undefined
  let output: string | undefined
  let xLanguage: Language | "none" | undefined
  const inputs: Array<{ file: string; language: Language | undefined }> = []
  const preprocessArgs: Array<string> = []
  const keyArgs: Array<string> = []
  let depKind: "-MD" | "-MMD" | undefined
  let depFile: string | undefined
  const depTargets: Array<string> = []
  let depArgsInKey: Array<string> = []
  let wpDep: DepOptions | undefined
  let debugInfo = false
  let splitDwarf = false
  let coverageNotes = false
  let coverageData = false
  let stackUsage = false
  let nativeCpu = false
  const prefixMaps: Array<readonly [string, string]> = []
  const directArgs: Array<string> = []
  const probeArgs: Array<string> = []
  let directModeOk = true
  let recordsSwitches = false
  const archs = new Set<string>()
  let colors: ColorChoice = "auto"
  const colorArgs: Array<string> = []
  let onlyInputs = false

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (onlyInputs || arg === "-" || !arg.startsWith("-")) {
      if (arg === "-") return notCacheable("input from stdin")
      const lang = xLanguage === undefined || xLanguage === "none" ? languageOfFile(arg) : xLanguage
      inputs.push({ file: arg, language: lang })
      // The input stays where it was: a later `-x` must not apply to it.
      preprocessArgs.push(arg)
      continue
    }
    if (arg === "--") {
      onlyInputs = true
      continue
    }
    const opt = lookupOption(args, i)
    if (opt?.spec.notCacheable !== undefined) return notCacheable(opt.spec.notCacheable)
    const choice = opt === undefined ? undefined : colorChoiceOf(opt)
    if (choice !== undefined) {
      colors = choice
      colorArgs.push(arg)
      continue
    }
    // The value of a separate-value option, consumed here so it is never taken for an input.
    let value: string | undefined
    if (opt?.words === 2) {
      value = opt.value
      if (value === undefined) return notCacheable(`missing argument to ${arg}`)
      i++
    }
    const whole = value === undefined ? [arg] : [arg, value]

    if (arg === "-c" || arg === "-S") {
      // -S wins over -c, as in gcc.
      if (compileMode !== "-S") compileMode = arg
      continue
    }
    if (opt?.name === "-o") {
      output = opt.value
      continue
    }
    if (opt?.name === "-x") {
      const name = opt.value!
      if (name === "none") xLanguage = "none"
      else {
        const lang = languageOfX(name)
        if (lang === undefined) return notCacheable("unknown source language")
        xLanguage = lang
      }
      keyArgs.push("-x", name)
      preprocessArgs.push("-x", name)
      directArgs.push("-x", name)
      probeArgs.push("-x", name)
      continue
    }
    // Dependency-file options: handled by us, not hashed except where they change the .d's text.
    if (arg === "-MD" || arg === "-MMD") {
      depKind = arg
      directArgs.push(arg)
      continue
    }
    if (opt?.name === "-MF") {
      depFile = opt.value
      continue
    }
    if (opt?.name === "-MT" || opt?.name === "-MQ") {
      depTargets.push(opt.name, opt.value!)
      directArgs.push(opt.name, opt.value!)
      continue
    }
    if (arg === "-MP" || arg === "-MG") {
      depArgsInKey.push(arg)
      preprocessArgs.push(arg)
      directArgs.push(arg)
      continue
    }
    if (arg.startsWith("-Wp,")) {
      const parts = arg.slice(4).split(",")
      if ((parts[0] === "-MD" || parts[0] === "-MMD") && parts.length === 2 && parts[1] !== "") {
        // clang treats it as -MD -MF; gcc's cc1 picks another default target, so it goes on as it is.
        directArgs.push(`-Wp,${parts[0]}`)
        if (family === "clang") {
          if (depKind !== undefined) return notCacheable("-Wp,-MD with -MD")
          depKind = parts[0]
          depFile = parts[1]
          continue
        }
        wpDep = { full: parts[0] === "-MD", file: parts[1], targets: [] }
        preprocessArgs.push(arg)
        depArgsInKey.push(arg.slice(0, 4) + parts[0])
        continue
      }
      if (parts.some((p) => p === "-P" || p.startsWith("-M"))) return notCacheable("-Wp,-M/-P")
      preprocessArgs.push(arg)
      keyArgs.push(arg)
      directArgs.push(arg)
      probeArgs.push(arg)
      directModeOk = false
      continue
    }
    if (arg.startsWith("-Wa,") && arg.slice(4).split(",").some((p) => p.startsWith("-a") || p === "--MD")) {
      return notCacheable("assembler listing")
    }
    if (arg === "-arch") {
      archs.add(value!)
      if (archs.size > 1) return notCacheable("multiple -arch")
    }

    // What is left goes to both runs. Whether it enters the key depends on its kind.
    preprocessArgs.push(...whole)
    directArgs.push(...whole)
    probeArgs.push(...whole)
    if (opt?.spec.notDirect) directModeOk = false
    if (arg === "-frecord-gcc-switches" || arg === "-grecord-command-line" || arg === "-frecord-command-line") recordsSwitches = true
    if (opt?.spec.preprocessor) continue
    keyArgs.push(...whole)

    if (isDebugFlag(arg)) debugInfo = arg !== "-g0"
    if (arg === "-gsplit-dwarf" || arg.startsWith("-gsplit-dwarf=")) splitDwarf = arg !== "-gsplit-dwarf=none"
    if (arg === "--coverage" || arg === "-ftest-coverage") coverageNotes = true
    if (arg === "--coverage" || arg === "-fprofile-arcs" || arg.startsWith("-fprofile-generate") ||
      arg.startsWith("-fprofile-instr-generate") || arg.startsWith("-fcs-profile-generate")) coverageData = true
    if (arg === "-fstack-usage") stackUsage = true
    if (/^-m(arch|tune|cpu)=native$/.test(arg)) nativeCpu = true
    for (const flag of ["-fdebug-prefix-map=", "-ffile-prefix-map="]) {
      if (arg.startsWith(flag)) {
        const map = arg.slice(flag.length)
        const eq = map.indexOf("=")
        if (eq > 0) prefixMaps.push([map.slice(0, eq), map.slice(eq + 1)])
      }
    }
  }

  if (compileMode === undefined) {
    return notCacheable(inputs.length === 0 ? "no input file" : "linking", inputs.length > 0)
  }
  if (inputs.length === 0) return notCacheable("no input file")
  if (inputs.length > 1) return notCacheable("multiple input files")
  const input = inputs[0]!
  if (input.language === undefined) return notCacheable("unknown source language")
  if (output === "-") return notCacheable("output to stdout")
  if (splitDwarf && compileMode === "-S") return notCacheable("-gsplit-dwarf with -S")
  const envReason = envNotCacheable(env)
  if (envReason !== undefined) return notCacheable(envReason)

  const obj = output ?? replaceExtension(path.basename(input.file), compileMode === "-c" ? ".o" : ".s")
  const sideOutputs: Array<{ role: string; file: string }> = []
  if (splitDwarf) sideOutputs.push({ role: "dwo", file: replaceExtension(obj, ".dwo") })
  if (coverageNotes) sideOutputs.push({ role: "gcno", file: replaceExtension(obj, ".gcno") })
  if (stackUsage) sideOutputs.push({ role: "su", file: replaceExtension(obj, ".su") })

  let dep = wpDep
  // gcc's -Wp,-MD goes to the -E run as it is; its -MT/-MQ must go along, or it names the default target.
  if (wpDep !== undefined) {
    dep = { ...wpDep, targets: depTargets }
    preprocessArgs.push(...depTargets)
  }
  if (depKind !== undefined) {
    if (wpDep !== undefined) return notCacheable("-Wp,-MD with -MD")
    const file = depFile ?? replaceExtension(output ?? path.basename(input.file), ".d")
    // The -E run writes the .d for this very invocation; its default target is the -o name, so name it.
    const targets = depTargets.length > 0 ? depTargets : ["-MQ", obj]
    dep = { full: depKind === "-MD", file, targets: depTargets }
    preprocessArgs.push(depKind, "-MF", file, ...targets)
    depArgsInKey = [depKind, ...depArgsInKey]
  }

  return {
    _tag: "Cacheable",
    compilation: {
      language: input.language,
      input: input.file,
      output: obj,
      sideOutputs,
      dep,
      preprocessArgs: [...preprocessArgs, "-E"],
      keyArgs: [compileMode, ...keyArgs, ...depArgsInKey, ...(recordsSwitches ? colorArgs : [])],
      hashInputDirectly: isPreprocessed(input.language),
      recordsCwd: debugInfo || coverageNotes,
      prefixMaps,
      outputPathInKey: splitDwarf || coverageData,
      recordsOutputPath: coverageData,
      keyFiles: keyFiles(args),
      nativeCpu,
      // The .d names the object; split DWARF and coverage data embed its path.
      directArgs: [
        compileMode,
        ...directArgs,
        ...(dep !== undefined || splitDwarf || coverageData ? ["-o", obj] : []),
        ...(recordsSwitches ? colorArgs : [])
      ],
      probeArgs,
      directModeOk,
      recordsSwitches,
      colors,
      colorsForced: !recordsSwitches
    }
  }
}

/** The working directory as the object will record it, after the last matching prefix map. */
export const mappedCwd = (cwd: string, maps: ReadonlyArray<readonly [string, string]>): string => {
  for (let i = maps.length - 1; i >= 0; i--) {
    const [from, to] = maps[i]!
    if (cwd === from || cwd.startsWith(from.endsWith("/") ? from : from + "/")) return to + cwd.slice(from.length)
  }
  return cwd
}
