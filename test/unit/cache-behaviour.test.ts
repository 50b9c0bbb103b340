/**
 * Cache behaviour on test layers: in-memory storage and a scripted compiler (no real gcc), so
 * many random compile sequences can run in a second.
 */
import { it } from "@effect/vitest"
import { KeyHistory } from "../../src/explain/KeyHistory.ts"
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect } from "vitest"
import { EntryCache } from "../../src/cache/EntryCache.ts"
import { FileDigests } from "../../src/cache/FileDigests.ts"
import { IncludeSearch } from "../../src/compiler/IncludeSearch.ts"
import { CompilerRunner } from "../../src/compiler/CompilerRunner.ts"
import { DaemonConfig, parseDaemonSettings } from "../../src/config/Config.ts"
import { gccFamily } from "../../src/families/gcc/GccFamily.ts"
import { Jobserver } from "../../src/jobserver/Jobserver.ts"
import { DirectMode } from "../../src/pipeline/DirectMode.ts"
import { Pipeline } from "../../src/pipeline/Pipeline.ts"
import type { CompileRequest } from "../../src/protocol/Messages.ts"
import { Stats } from "../../src/stats/Stats.ts"
import { MemoryStorageLayer } from "../../src/storage/MemoryStorage.ts"

/**
 * A compiler whose object is a function of the source text and flags; a source containing
 * "error" fails with a message, one containing "warn" succeeds with a warning.
 */
const scriptedRunner = (calls: { compiles: number }) =>
  Layer.succeed(CompilerRunner, CompilerRunner.of({
    preprocess: (_exe, args, opts) =>
      Effect.sync(() => {
        const input = args.find((a) => a.endsWith(".c"))!
        const text = fs.readFileSync(path.join(opts.cwd, input), "utf8")
        return { exitCode: 0, digest: `pp:${text}`, stderr: Buffer.alloc(0), includes: new Set<string>(), incbin: false }
      }),
    run: (_exe, args, opts) =>
      Effect.sync(() => {
        // The include search probe (`-E -v /dev/null`): no headers here.
        if (args.includes("-v")) return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.from("#include <...> search starts here:\nEnd of search list.\n") }
        calls.compiles++
        const input = args.find((a) => a.endsWith(".c"))!
        const text = fs.readFileSync(path.join(opts.cwd, input), "utf8")
        if (text.includes("error")) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`${input}: error\n`) }
        const out = args[args.indexOf("-o") + 1]!
        fs.writeFileSync(path.join(opts.cwd, out), `OBJ(${text}|${args.filter((a) => a.startsWith("-O")).join(",")})`)
        if (args.includes("-MF")) fs.writeFileSync(path.resolve(opts.cwd, args[args.indexOf("-MF") + 1]!), `${out}: ${input}\n`)
        return { exitCode: 0, stdout: Buffer.from(""), stderr: Buffer.from(text.includes("warn") ? `${input}: warning\n` : "") }
      })
  }))

const layer = (blobs: Map<string, Uint8Array>, calls: { compiles: number }, direct: boolean) =>
  Pipeline.layer.pipe(
    Layer.provideMerge(DirectMode.layer),
    Layer.provideMerge(Layer.mergeAll(EntryCache.layer, FileDigests.layer, IncludeSearch.layer)),
    Layer.provideMerge(Layer.mergeAll(
      MemoryStorageLayer(blobs),
      Stats.layer,
      scriptedRunner(calls),
      Jobserver.pool(2),
      KeyHistory.layer,
      Layer.succeed(DaemonConfig, parseDaemonSettings({ HOME: os.tmpdir(), SCCACHE_DIRECT: String(direct) }) as DaemonConfig["Service"])
    ))
  )

const gcc = { family: "gcc" as const, identity: "scripted", version: "scripted 1" }

const SOURCES: Record<string, string> = { "a.c": "int a;", "b.c": "int b;", "c.c": "warn c;", "d.c": "error d;" }
const sources = fs.mkdtempSync(path.join(os.tmpdir(), "sct-prop-"))
for (const [f, text] of Object.entries(SOURCES)) fs.writeFileSync(path.join(sources, f), text)
// A source changed within the file system's clock granularity of a compile is never stored: let them age.
await new Promise((r) => setTimeout(r, 50))

const Step = Schema.Struct({
  source: Schema.Literals(Object.keys(SOURCES) as ["a.c", "b.c", "c.c", "d.c"]),
  opt: Schema.Literals(["-O0", "-O2"]),
  out: Schema.Literals(["x.o", "y.o"])
})

for (const direct of [true, false]) {
it.effect.prop(`a repeat is a hit with identical outputs; a failure is never stored (direct mode ${direct ? "on" : "off"})`, [Schema.Array(Step)], ([steps]) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sct-prop-"))
    for (const f of Object.keys(SOURCES)) fs.symlinkSync(path.join(sources, f), path.join(dir, f))
    const calls = { compiles: 0 }
    const blobs = new Map<string, Uint8Array>()
    const seen = new Map<string, { stdout: string; stderr: string; exitCode: number; obj?: string }>()
    yield* Effect.gen(function*() {
      const pipeline = yield* Pipeline
      const gccLike = yield* gccFamily
      for (const step of steps) {
        fs.rmSync(path.join(dir, step.out), { force: true })
        const req: CompileRequest = {
          type: "compile", build: "t", exe: "/usr/bin/gcc", cwd: dir, env: {}, umask: 0o022,
          args: ["-c", step.source, step.opt, "-o", step.out]
        }
        const before = calls.compiles
        const { reply: outcome } = yield* pipeline.run(gccLike, req, gcc)
        if (outcome.type !== "compiled") throw new Error(`unexpected ${outcome.reason}`)
        if (outcome.background) yield* outcome.background
        const result = {
          stdout: outcome.stdout,
          stderr: outcome.stderr,
          exitCode: outcome.exitCode,
          ...(outcome.exitCode === 0 ? { obj: fs.readFileSync(path.join(dir, step.out), "utf8") } : {})
        }
        const id = `${step.source}|${step.opt}`
        const previous = seen.get(id)
        if (previous !== undefined && previous.exitCode === 0) {
          // A hit: the compiler did not run, and everything matches the first result.
          expect(calls.compiles).toBe(before)
          expect(result).toEqual(previous)
        } else {
          expect(calls.compiles).toBe(before + 1)
        }
        seen.set(id, result)
      }
      // One entry per successful (source, flags), plus in direct mode one manifest each.
      const stored = [...seen.values()].filter((r) => r.exitCode === 0).length
      expect(blobs.size).toBe(direct ? 2 * stored : stored)
    }).pipe(Effect.provide(layer(blobs, calls, direct), { local: true }), Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true }))))
  }), { arbitrary: { runs: 60, seed: 9 } })
}
