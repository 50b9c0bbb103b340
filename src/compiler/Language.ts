import * as path from "node:path"

/** The `-x` names gcc and clang share, for the languages sccache-ts caches. */
export type Language =
  | "c"
  | "c++"
  | "objective-c"
  | "objective-c++"
  | "cpp-output"
  | "c++-cpp-output"
  | "objective-c-cpp-output"
  | "objective-c++-cpp-output"
  | "assembler"
  | "assembler-with-cpp"
  | "cuda"

const BY_EXTENSION: Readonly<Record<string, Language>> = {
  ".c": "c",
  ".cc": "c++",
  ".cp": "c++",
  ".cxx": "c++",
  ".cpp": "c++",
  ".CPP": "c++",
  ".c++": "c++",
  ".C": "c++",
  ".m": "objective-c",
  ".mm": "objective-c++",
  ".M": "objective-c++",
  ".i": "cpp-output",
  ".ii": "c++-cpp-output",
  ".mi": "objective-c-cpp-output",
  ".mii": "objective-c++-cpp-output",
  ".s": "assembler",
  ".S": "assembler-with-cpp",
  ".sx": "assembler-with-cpp",
  ".cu": "cuda"
}

const X_NAMES: ReadonlySet<string> = new Set([
  ...Object.values(BY_EXTENSION),
  "c-cpp-output" // gcc's older spelling of cpp-output
])

export const languageOfFile = (file: string): Language | undefined => BY_EXTENSION[path.extname(file)]

export const languageOfX = (name: string): Language | undefined =>
  X_NAMES.has(name) ? (name === "c-cpp-output" ? "cpp-output" : (name as Language)) : undefined

/** Input that the compiler takes as it is, with no preprocessing: hash the file, don't run `-E`. */
export const isPreprocessed = (lang: Language): boolean =>
  lang === "cpp-output" || lang === "c++-cpp-output" || lang === "objective-c-cpp-output" ||
  lang === "objective-c++-cpp-output" || lang === "assembler"

/** The language names sccache's stats use. */
export const statsLanguage = (lang: Language): string =>
  lang === "assembler" || lang === "assembler-with-cpp" ? "Assembler" : lang === "cuda" ? "CUDA" : "C/C++"

/** sccache's names in `--show-adv-stats`: the language, then the compiler kind (`c [gcc]`, `c++ [msvc]`). */
export const advLanguage = (lang: Language): string =>
  ({ "c": "c", "cpp-output": "c", "c++": "c++", "c++-cpp-output": "c++", "objective-c": "objc", "objective-c-cpp-output": "objc",
    "objective-c++": "objc++", "objective-c++-cpp-output": "objc++", "assembler": "asm", "assembler-with-cpp": "asm", "cuda": "cuda" } as const)[lang]

export const statsKind = (lang: Language, compilerKind: string) => ({ lang: statsLanguage(lang), adv: `${advLanguage(lang)} [${compilerKind}]` })

/**
 * Text that makes the assembler read other files (`.incbin "data.bin"` anywhere, inline asm
 * included; a `.include "x.s"` directive): no dependency list names them and the preprocessor
 * doesn't expand them, so such a compile is not cacheable.
 */
export const assemblerReadsFiles = (text: string): boolean =>
  text.includes(".incbin") || /^[ \t]*(?:[A-Za-z_.$][\w.$]*:[ \t]*)?\.include[ \t]/m.test(text)

export const ASSEMBLER_READS_FILES = "unsupported code directive (.incbin/.include)"
