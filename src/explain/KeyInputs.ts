/**
 * Why did a compile miss? The inputs of a key, as a record the daemon keeps for recent compiles,
 * and pure comparisons of two records: which input changed — the source, a header (which), an
 * argument, a variable, the working directory, the compiler.
 */
import * as path from "node:path"

export interface KeyInputs {
  /** The result key. */
  readonly key: string
  /** The direct-mode manifest key, when the compile had one. */
  readonly manifest?: string
  readonly cwd: string
  /** Absolute. */
  readonly source: string
  readonly output: string
  /** The compiler's identity (its bytes and version). */
  readonly compiler: string
  readonly args: ReadonlyArray<string>
  /** `NAME=value`, for the variables that are part of keys. */
  readonly env: ReadonlyArray<string>
  /** Every file the compile read, absolute, with its digest: the source, then the headers. */
  readonly files: ReadonlyArray<readonly [file: string, digest: string]>
}

export type Difference =
  | { readonly kind: "compiler" }
  | { readonly kind: "source" }
  | { readonly kind: "header"; readonly file: string; readonly change: "changed" | "added" | "removed" }
  | { readonly kind: "arguments"; readonly added: ReadonlyArray<string>; readonly removed: ReadonlyArray<string> }
  | { readonly kind: "variable"; readonly name: string; readonly before: string | undefined; readonly after: string | undefined }
  | { readonly kind: "directory"; readonly before: string; readonly after: string }

/** Multiset difference, so `-I a -I a` against `-I a` shows the extra one. */
const minus = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Array<string> => {
  const left = new Map<string, number>()
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1)
  return a.filter((x) => {
    const n = left.get(x) ?? 0
    if (n === 0) return true
    left.set(x, n - 1)
    return false
  })
}

const vars = (env: ReadonlyArray<string>): Map<string, string> =>
  new Map(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]))

/** Pure: what differs from `before` to `now`, the source first, then headers, arguments, variables. */
export const differences = (before: KeyInputs, now: KeyInputs): Array<Difference> => {
  const out: Array<Difference> = []
  if (before.compiler !== now.compiler) out.push({ kind: "compiler" })
  const was = new Map(before.files)
  const is = new Map(now.files)
  if (was.get(before.source) !== is.get(now.source)) out.push({ kind: "source" })
  for (const [file, digest] of is) {
    if (file === now.source) continue
    const old = was.get(file)
    if (old === undefined) out.push({ kind: "header", file, change: "added" })
    else if (old !== digest) out.push({ kind: "header", file, change: "changed" })
  }
  for (const file of was.keys()) {
    if (file !== before.source && !is.has(file)) out.push({ kind: "header", file, change: "removed" })
  }
  const added = minus(now.args, before.args)
  const removed = minus(before.args, now.args)
  if (added.length > 0 || removed.length > 0) out.push({ kind: "arguments", added, removed })
  const [v0, v1] = [vars(before.env), vars(now.env)]
  for (const name of [...new Set([...v0.keys(), ...v1.keys()])].sort()) {
    if (v0.get(name) !== v1.get(name)) out.push({ kind: "variable", name, before: v0.get(name), after: v1.get(name) })
  }
  if (before.cwd !== now.cwd) out.push({ kind: "directory", before: before.cwd, after: now.cwd })
  return out
}

/**
 * Pure: the known record closest to `now` — the same source first (then the same output), fewest
 * differences, the latest on a tie — with its differences; undefined when none is comparable.
 */
export const closest = (now: KeyInputs, known: ReadonlyArray<KeyInputs>) => {
  const comparable = known.filter((k) => k.source === now.source || k.output === now.output)
  let best: { readonly record: KeyInputs; readonly differences: Array<Difference> } | undefined
  for (const record of comparable) {
    const d = differences(record, now)
    const rank = (r: KeyInputs, n: number) => (r.source === now.source ? 0 : 1000) + n
    if (best === undefined || rank(record, d.length) <= rank(best.record, best.differences.length)) best = { record, differences: d }
  }
  return best
}

const shown = (file: string, cwd: string): string => {
  const rel = path.relative(cwd, file)
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file
}

const quoted = (v: string | undefined) => (v === undefined ? "unset" : JSON.stringify(v))

/** Pure: one line per difference, in the words a user looks for. */
export const describe = (d: Difference, now: KeyInputs): string => {
  switch (d.kind) {
    case "compiler":
      return "the compiler changed (another binary or version)"
    case "source":
      return `the source ${shown(now.source, now.cwd)} changed`
    case "header":
      return d.change === "changed"
        ? `the header ${shown(d.file, now.cwd)} changed`
        : d.change === "added"
        ? `the header ${shown(d.file, now.cwd)} is read now, and was not before`
        : `the header ${shown(d.file, now.cwd)} was read before, and is not now`
    case "arguments":
      return [
        d.added.length > 0 ? `argument${d.added.length > 1 ? "s" : ""} ${d.added.join(" ")} added` : "",
        d.removed.length > 0 ? `argument${d.removed.length > 1 ? "s" : ""} ${d.removed.join(" ")} removed` : ""
      ].filter(Boolean).join(", ")
    case "variable":
      return `the variable ${d.name} changed: ${quoted(d.before)} → ${quoted(d.after)}`
    case "directory":
      return `the working directory changed: ${d.before} → ${d.after} (part of the key: the object records it)`
  }
}

/** Pure: why `now` missed, against the records the daemon knows. */
export const explainMiss = (now: KeyInputs, known: ReadonlyArray<KeyInputs>): ReadonlyArray<string> => {
  const name = shown(now.source, now.cwd)
  if (known.some((k) => k.key === now.key)) {
    return [`the same key as an earlier compile of ${name}: its entry is gone (evicted, or never stored)`]
  }
  const best = closest(now, known)
  if (best === undefined) return [`no earlier compile of ${name} is known to this daemon (since it started)`]
  if (best.differences.length === 0) {
    return [`the same inputs as an earlier compile of ${name}, under another key (an input sccache-ts cannot name changed)`]
  }
  return best.differences.map((d) => describe(d, now))
}

/**
 * Pure: the record of a compile, from the files it read (relative to `cwd`, or absolute) and
 * their digests as the daemon knows them now. The source is always among the files.
 */
export const keyInputsOf = (
  o: Omit<KeyInputs, "files" | "source" | "output"> & { readonly input: string; readonly output: string; readonly read: ReadonlyArray<string> },
  digestOf: (file: string) => string | undefined
): KeyInputs => {
  const source = path.resolve(o.cwd, o.input)
  const files = [...new Set([source, ...o.read.map((f) => path.resolve(o.cwd, f))])]
  const { input: _input, read: _read, ...rest } = o
  return { ...rest, source, output: path.resolve(o.cwd, o.output), files: files.map((f) => [f, digestOf(f) ?? "unreadable"] as const) }
}

/** What a compile about to run is known to be, before it reads anything: all but its files. */
export type Invocation = Omit<KeyInputs, "key" | "manifest" | "files">

/**
 * Pure: the known record `inv` is closest to, each record's files digested as they are now (so a
 * changed header shows without compiling anything), with the differences; undefined when none of
 * them is of this source or output.
 */
export const closestNow = (inv: Invocation, known: ReadonlyArray<KeyInputs>, digestOf: (file: string) => string | undefined) => {
  let best: { readonly record: KeyInputs; readonly now: KeyInputs; readonly differences: Array<Difference> } | undefined
  for (const record of known) {
    const now: KeyInputs = { ...inv, key: "", files: record.files.map(([f]) => [f, digestOf(f) ?? "missing"] as const) }
    const found = closest(now, [record])
    if (found === undefined) continue
    const rank = (r: KeyInputs, n: number) => (r.source === inv.source ? 0 : 1000) + n
    if (best === undefined || rank(record, found.differences.length) <= rank(best.record, best.differences.length)) {
      best = { record, now, differences: found.differences }
    }
  }
  return best
}
