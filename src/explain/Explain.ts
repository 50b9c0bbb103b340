import { Context, Effect, Layer } from "effect"
import * as path from "node:path"
import { readUtf8 } from "../compiler/ResponseFiles.ts"
import { keyEnv, withExtraFiles } from "../cache/CKey.ts"
import { EntryCache } from "../cache/EntryCache.ts"
import { FileDigests } from "../cache/FileDigests.ts"
import { decodeManifest, type Manifest } from "../cache/Manifest.ts"
import { CompilerDetector } from "../compiler/CompilerDetector.ts"
import { parseGccArgs } from "../compiler/GccArgs.ts"
import { expandResponseFiles } from "../compiler/ResponseFiles.ts"
import type { CompileRequest } from "../protocol/Messages.ts"
import { KeyHistory } from "./KeyHistory.ts"
import { closestNow, describe, type KeyInputs } from "./KeyInputs.ts"

/**
 * Pure: a direct-mode manifest as `--debug-preprocessor-cache` shows it: each candidate's result
 * and the files it was read with, marked by whether they still have that content.
 */
export const formatManifest = (key: string, m: Manifest, cwd: string, digestOf: (file: string) => string | undefined): Array<string> => {
  const lines = [`manifest ${key}: ${m.candidates.length} candidate${m.candidates.length === 1 ? "" : "s"}`]
  m.candidates.forEach((cand, i) => {
    lines.push(`  ${i + 1}. result ${cand.result}`)
    for (const [file, digest] of cand.includes) {
      const now = digestOf(path.resolve(cwd, file))
      lines.push(`     ${now === digest ? "same   " : now === undefined ? "missing" : "changed"} ${file}`)
    }
    for (const [dir, names] of cand.absent) lines.push(`     absent ${dir}/{${names.join(",")}}`)
  })
  return lines
}

/** `--explain` and `--debug-preprocessor-cache`: answered from the daemon's memory of recent compiles. */
export class Explain extends Context.Service<Explain, {
  /** Why this compile would miss (or that it would hit), and its manifest; all manifests without one. */
  readonly explain: (req: CompileRequest | undefined) => Effect.Effect<ReadonlyArray<string>>
}>()("sccache-ts/explain/Explain") {
  static readonly layer = Layer.effect(Explain, Effect.gen(function*() {
    const history = yield* KeyHistory
    const detector = yield* CompilerDetector
    const digests = yield* FileDigests
    const cache = yield* EntryCache
    const digestOf = (f: string) => digests.digest(f)?.digest

    const manifestOf = (r: KeyInputs) =>
      Effect.gen(function*() {
        if (r.manifest === undefined) return []
        const blob = yield* cache.lookupBlob(r.manifest)
        const m = blob === undefined ? undefined : yield* Effect.promise(() => decodeManifest(r.manifest!, blob))
        if (m === undefined) return [`manifest ${r.manifest}: not in the cache`]
        if (m instanceof Error) return [`manifest ${r.manifest}: unusable (${m._tag === "EntryOutdated" ? "an older format" : m.message})`]
        return formatManifest(r.manifest, m, r.cwd, digestOf)
      })

    const explainOne = Effect.fn("Explain.explain")(function*(req: CompileRequest) {
      const info = yield* detector.detect(req.exe, { cwd: req.cwd, env: req.env }).pipe(Effect.result)
      if (info._tag === "Failure") return [`not a compiler sccache-ts caches: ${info.failure.message}`]
      if (info.success.family !== "gcc" && info.success.family !== "clang") {
        return [`--explain covers gcc and clang compiles; this is ${info.success.family}`]
      }
      const args = expandResponseFiles(req.args, readUtf8(req.cwd))
      if (args === undefined) return ["not cacheable: response files nested too deep"]
      const parsed = parseGccArgs(args, info.success.family)
      if (parsed._tag === "NotCacheable") return [`not cacheable: ${parsed.reason}`]
      const c = parsed.compilation
      const env = withExtraFiles(req.env, req.cwd, digestOf)
      if ("missing" in env) return [`not cacheable: SCCACHE_EXTRAFILES: cannot read ${env.missing}`]
      const inv = {
        cwd: req.cwd,
        source: path.resolve(req.cwd, c.input),
        output: path.resolve(req.cwd, c.output),
        compiler: info.success.identity,
        args: c.directArgs,
        env: keyEnv(env)
      }
      const best = closestNow(inv, yield* history.about(inv.source, inv.output), digestOf)
      const name = path.relative(req.cwd, inv.source)
      if (best === undefined) return [`miss: no earlier compile of ${name} is known to this daemon (since it started)`]
      const why = best.differences.map((d) => `miss: ${describe(d, best.now)}`)
      if (why.length === 0) {
        const stored = (yield* cache.lookupBlob(best.record.key)) !== undefined
        why.push(stored
          ? `hit: no input of ${name} changed since the compile of result ${best.record.key} (unless a new header now shadows one it read)`
          : `miss: no input of ${name} changed, but the entry of result ${best.record.key} is gone (evicted, or never stored)`)
      }
      return [...why, ...(yield* manifestOf(best.record))]
    })

    return Explain.of({
      explain: (req) =>
        req !== undefined ? explainOne(req) : Effect.gen(function*() {
          const records = (yield* history.all).filter((r) => r.manifest !== undefined)
          const seen = new Set<string>()
          const lines: Array<string> = []
          for (const r of records) {
            if (seen.has(r.manifest!)) continue
            seen.add(r.manifest!)
            lines.push(`${r.source}:`, ...(yield* manifestOf(r)))
          }
          return lines.length > 0 ? lines : ["no direct-mode manifest is known to this daemon (since it started)"]
        })
    })
  }))

  /** With the cache down, there is nothing to explain but that. */
  static readonly degraded = (why: string) => Layer.succeed(Explain, Explain.of({ explain: () => Effect.succeed([why]) }))
}
