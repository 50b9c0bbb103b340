import * as fs from "node:fs"
import * as path from "node:path"

/** A response-file reader for compiles run in `cwd`: undefined for a file that can't be read. */
export const readUtf8 = (cwd: string) => (file: string): string | undefined => {
  try {
    return fs.readFileSync(path.resolve(cwd, file), "utf8")
  } catch {
    return undefined
  }
}

/** Splits a response file as gcc and clang do: whitespace separates, quotes group, backslash escapes. */
export const splitResponseFile = (text: string): Array<string> => {
  const out: Array<string> = []
  let cur = ""
  let inArg = false
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\" && i + 1 < text.length) {
      cur += text[++i]
      inArg = true
    } else if (quote !== undefined) {
      if (c === quote) quote = undefined
      else cur += c
    } else if (c === "'" || c === '"') {
      quote = c
      inArg = true
    } else if (/\s/.test(c)) {
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

/**
 * Replaces every `@file` by the arguments it holds (split by `split`: gcc's rules unless told), recursively. A file that can't be read stays
 * as it is, as the compiler would leave it; `undefined` comes back when the nesting is too deep.
 */
export const expandResponseFiles = (
  args: ReadonlyArray<string>,
  read: (file: string) => string | undefined,
  split: (text: string) => Array<string> = splitResponseFile,
  depth = 0
): Array<string> | undefined => {
  if (depth > 16) return undefined
  const out: Array<string> = []
  for (const arg of args) {
    const text = arg.startsWith("@") && arg.length > 1 ? read(arg.slice(1)) : undefined
    if (text === undefined) {
      out.push(arg)
      continue
    }
    const inner = expandResponseFiles(split(text), read, split, depth + 1)
    if (inner === undefined) return undefined
    out.push(...inner)
  }
  return out
}
