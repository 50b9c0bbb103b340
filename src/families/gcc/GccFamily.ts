import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { keyPath, logicalCwd, rebaseGccArgs } from "../../cache/BaseDirs.ts"
import { cKey, keyEnv, withExtraFiles } from "../../cache/CKey.ts"
import { FileDigests } from "../../cache/FileDigests.ts"
import { depTargets, manifestKey } from "../../cache/Manifest.ts"
import { nonRegularOutput } from "../../cache/OutputWriter.ts"
import type { CompilerInfo } from "../../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../../compiler/CompilerRunner.ts"
import { parseDepFile } from "../../compiler/DepFile.ts"
import { type GccCompilation, mappedCwd, parseGccArgs } from "../../compiler/GccArgs.ts"
import { FORCE_COLORS, showsColors, stripColors } from "../../compiler/GccOptions.ts"
import { IncludeSearch } from "../../compiler/IncludeSearch.ts"
import { KeyHistory } from "../../explain/KeyHistory.ts"
import { keyInputsOf } from "../../explain/KeyInputs.ts"
import { ASSEMBLER_READS_FILES, assemblerReadsFiles, statsKind } from "../../compiler/Language.ts"
import { expandResponseFiles, readUtf8 } from "../../compiler/ResponseFiles.ts"
import { DaemonConfig } from "../../config/Config.ts"
import { Jobserver } from "../../jobserver/Jobserver.ts"
import type { CompileRequest } from "../../protocol/Messages.ts"
import { type Depend, type Direct, type Family, type Job, pathView, type PathView, type ResultKey, skip } from "../../pipeline/Family.ts"
import { fixedOutputs } from "../../pipeline/Outputs.ts"
import { tempName } from "../../fs/AtomicWrite.ts"

export const cpuFingerprint = (() => {
  let cached: string | undefined
  return () => (cached ??= (() => {
    try {
      const info = fs.readFileSync("/proc/cpuinfo", "utf8")
      return [/^model name.*$/m, /^flags.*$/m].map((r) => r.exec(info)?.[0] ?? "").join("\n")
    } catch {
      return os.cpus()[0]?.model ?? "unknown"
    }
  })())
})()

/**
 * Paths in keys are relative (shareable across checkouts) unless the object records where it
 * was built: -g without a prefix map hiding the working directory, or a recorded command line.
 */
export const relocatable = (c: GccCompilation, cwd: string): boolean =>
  !c.recordsSwitches && !c.recordsOutputPath && (!c.recordsCwd || mappedCwd(cwd, c.prefixMaps) !== cwd)

/** Arguments and paths as a key spells them: rebased under base directories (see keyPath) when relocatable. */
const spelling = (view: PathView, cwd: string) => ({
  args: view.relocatable ? (a: ReadonlyArray<string>) => rebaseGccArgs(a, cwd, view.bases) : (a: ReadonlyArray<string>) => [...a],
  path: view.relocatable ? (f: string) => keyPath(f, cwd, view.bases) : (f: string) => f
})

/** Depend mode: the compile itself lists what it read, in its own .d or in one of ours. */
const dependOn = (req: CompileRequest, c: GccCompilation, args: ReadonlyArray<string>): Depend => {
  const tmpDep = c.dep === undefined ? path.join(os.tmpdir(), `${tempName()}.d`) : undefined
  return {
    args: tmpDep === undefined ? args : [...args, "-MD", "-MF", tmpDep],
    finish: (out) =>
      Effect.promise(async () => {
        const depText = await fsp.readFile(path.resolve(req.cwd, tmpDep ?? c.dep!.file), "utf8").catch(() => undefined)
        if (tmpDep !== undefined) await fsp.rm(tmpDep, { force: true })
        // Files options name count as read: one changed during the compile must not be stored.
        return { out, read: depText === undefined ? undefined : [...new Set([...parseDepFile(depText), ...c.keyFiles])] }
      })
  }
}

/** gcc and clang: direct mode, depend mode, preprocessor mode. */
export const gccFamily = Effect.gen(function*() {
  const runner = yield* CompilerRunner
  const jobs = yield* Jobserver
  const config = yield* DaemonConfig
  const digests = yield* FileDigests
  const search = yield* IncludeSearch
  const history = yield* KeyHistory

  /** Preprocessor mode: the key's text is the preprocessor's output, which also writes the .d. */
  const preprocessorKey = (
    req: CompileRequest,
    compiler: CompilerInfo,
    c: GccCompilation,
    view: PathView,
    cpu: string,
    files: ReadonlyArray<string>,
    env: Readonly<Record<string, string>>
  ) =>
    Effect.gen(function*() {
      let sourceDigest: string
      let read: ReadonlyArray<string>
      if (c.hashInputDirectly) {
        const data = yield* Effect.promise(() => fsp.readFile(path.resolve(req.cwd, c.input)).catch(() => undefined))
        if (data === undefined) return skip("input file missing")
        if (c.language === "assembler" && assemblerReadsFiles(data.toString("latin1"))) return skip(ASSEMBLER_READS_FILES)
        sourceDigest = createHash("sha256").update(data).digest("hex")
        read = [c.input, ...c.keyFiles]
      } else {
        const mapPath = view.relocatable ? view.key : undefined
        const pre = yield* jobs.withToken(runner.preprocess(req.exe, c.preprocessArgs, { cwd: req.cwd, env: req.env, ...(mapPath ? { mapPath } : {}) })).pipe(Effect.result)
        if (pre._tag === "Failure" || pre.success.exitCode !== 0) return skip("preprocessing failed")
        if (pre.success.incbin) return skip(ASSEMBLER_READS_FILES)
        sourceDigest = pre.success.digest
        read = [...new Set([c.input, ...pre.success.includes, ...c.keyFiles])]
      }
      const key = cKey({
        compiler,
        driver: req.exe,
        compilation: { ...c, keyArgs: spelling(view, req.cwd).args(c.keyArgs) },
        files,
        cwd: req.cwd,
        env,
        sourceDigest,
        cpu
      })
      return { key, mode: "preprocessor", read } satisfies ResultKey
    })

  const family: Family = {
    accepts: (compiler) => compiler.family === "gcc" || compiler.family === "clang",
    prepare: Effect.fn("GccFamily.prepare")(function*(request: CompileRequest, compiler: CompilerInfo) {
      const req = { ...request, cwd: logicalCwd(request.cwd, request.env["PWD"]) }
      const args = expandResponseFiles(req.args, readUtf8(req.cwd))
      if (args === undefined) return skip("response files nested too deep")
      const parsed = parseGccArgs(args, compiler.family === "clang" ? "clang" : "gcc", req.env)
      if (parsed._tag === "NotCacheable") return skip(parsed.reason, parsed.nonCompilation === true)
      const c = parsed.compilation
      const special = nonRegularOutput(req.cwd, [c.output, ...c.sideOutputs.map((o) => o.file), ...(c.dep !== undefined ? [c.dep.file] : [])])
      if (special !== undefined) return skip(special)
      const env = withExtraFiles(req.env, req.cwd, (f) => digests.digest(f)?.digest)
      if ("missing" in env) return skip(`SCCACHE_EXTRAFILES: cannot read ${env.missing}`)
      const view = pathView(relocatable(c, req.cwd), req.cwd, config.basedirs)
      const spell = spelling(view, req.cwd)
      const cpu = c.nativeCpu ? cpuFingerprint() : ""
      // Files options name (sanitizer lists, profiles, specs): their content is part of every key.
      const files: Array<string> = []
      for (const f of c.keyFiles) {
        const d = digests.digest(path.resolve(req.cwd, f))
        if (d === undefined) return skip("option names an unreadable file or a directory")
        files.push(`${spell.path(f)}\0${d.digest}`)
      }

      const compileArgs = c.colorsForced ? [...req.args, FORCE_COLORS] : req.args
      let direct: Direct | undefined
      if (config.direct && c.directModeOk && !c.hashInputDirectly) {
        const input = digests.digest(path.resolve(req.cwd, c.input))
        if (input === undefined) return skip("input file missing")
        if (input.incbin) return skip(ASSEMBLER_READS_FILES)
        // Time macros: the result depends on more than the files.
        if (!input.timeMacros) {
          direct = {
            manifestKey: manifestKey({
              compiler,
              driver: req.exe,
              compilation: c,
              args: [...spell.args(c.directArgs), ...files],
              input: spell.path(c.input),
              inputDigest: input.digest,
              cwd: view.relocatable ? (c.recordsCwd ? mappedCwd(req.cwd, c.prefixMaps) : undefined) : req.cwd,
              env,
              cpu
            }),
            view,
            input: c.input,
            depFile: c.dep?.file,
            depTargets: depTargets(c),
            searchDirs: search.dirs(req.exe, compiler, c, { cwd: req.cwd, env: req.env }),
            // -MMD leaves system headers out: only a full list can stand for the compile.
            depend: c.dep === undefined || c.dep.full ? dependOn(req, c, compileArgs) : undefined
          }
        }
      }
      return {
        _tag: "Job",
        req,
        kind: statsKind(c.language, compiler.family),
        outputs: fixedOutputs(req, [{ role: "obj", file: c.output }, ...c.sideOutputs]),
        args: compileArgs,
        direct,
        key: preprocessorKey(req, compiler, c, view, cpu, files, env),
        // Diagnostics are stored colored; a client whose stderr shows none gets them plain.
        ...(showsColors(c.colors, req.stderrTty === true, req.env)
          ? {}
          : { present: (reply) => ({ ...reply, stderr: stripColors(Buffer.from(reply.stderr, "base64")).toString("base64") }) }),
        // What --explain and the debug log compare a miss against.
        remember: (key, read, outcome, known) =>
          history.record(keyInputsOf({
            key, ...(direct === undefined ? {} : { manifest: direct.manifestKey }), cwd: req.cwd, input: c.input, output: c.output,
            compiler: compiler.identity, args: c.directArgs, env: keyEnv(env), read
          }, (f) => known?.get(f) ?? digests.digest(f)?.digest), outcome)
      } satisfies Job
    })
  }
  return family
})
