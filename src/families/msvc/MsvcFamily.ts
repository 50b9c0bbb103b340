import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileDigests } from "../../cache/FileDigests.ts"
import { parseSearchDirs } from "../../cache/Manifest.ts"
import type { CompilerInfo } from "../../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../../compiler/CompilerRunner.ts"
import { statsKind } from "../../compiler/Language.ts"
import { expandResponseFiles, readUtf8 } from "../../compiler/ResponseFiles.ts"
import { DaemonConfig } from "../../config/Config.ts"
import { Jobserver } from "../../jobserver/Jobserver.ts"
import type { CompileRequest } from "../../protocol/Messages.ts"
import { type Direct, type Family, type Job, pathView, type ResultKey, skip } from "../../pipeline/Family.ts"
import { makeMemo } from "../../pipeline/Keyed.ts"
import { fixedOutputs } from "../../pipeline/Outputs.ts"
import { type MsvcCompilation, parseMsvcArgs, parseShowIncludes, splitWindowsCommandLine, withoutShowIncludes } from "./MsvcArgs.ts"
import { msvcKey, msvcManifestKey } from "./MsvcKey.ts"

/** clang-cl learnt the `/Fo:` spelling late (clang 14 reads it as `/Fo` and a name starting with a colon). */
export const knowsColonOutput = (compiler: CompilerInfo): boolean => {
  const major = /clang version (\d+)/.exec(compiler.version)?.[1]
  return compiler.family !== "clang" || (major !== undefined && Number(major) >= 16)
}

const isDir = (cwd: string) => (p: string) => fs.statSync(path.resolve(cwd, p), { throwIfNoEntry: false })?.isDirectory() === true

/** cl.exe syntax: clang-cl, or clang told `--driver-mode=cl`. */
export const isMsvcDriver = (compiler: CompilerInfo, req: CompileRequest): boolean =>
  compiler.family === "clang" && (/^clang-cl(-[\d.]+)?(\.exe)?$/.test(path.basename(req.exe)) || req.args.includes("--driver-mode=cl"))

/** MSVC-style compiles: direct mode learns the headers from /showIncludes; else preprocessor mode with /E. */
export const msvcFamily = Effect.gen(function*() {
  const runner = yield* CompilerRunner
  const jobs = yield* Jobserver
  const config = yield* DaemonConfig
  const digests = yield* FileDigests

  /** The include search path: clang-cl lists it under `-v`; cl's is its /I directories and INCLUDE. */
  const searchDirs = yield* makeMemo(({ req, c }: { req: CompileRequest; c: MsvcCompilation }) =>
    runner.run(req.exe, [...c.probeArgs, "-v", "/E", c.language === "c" ? "/TC" : "/TP", "/dev/null"], { cwd: req.cwd, env: { ...req.env, LC_ALL: "C" } }).pipe(
      Effect.map((out) => (out.exitCode === 0 ? parseSearchDirs(out.stderr.toString("utf8")) : undefined)),
      Effect.orElseSucceed(() => undefined),
      Effect.map((listed) => [...new Set([...c.includeDirs, ...(listed ?? (req.env["INCLUDE"] ?? "").split(";").filter((d) => d !== ""))])])
    ), { capacity: 256 })

  const preprocessorKey = (req: CompileRequest, compiler: CompilerInfo, c: MsvcCompilation) =>
    Effect.gen(function*() {
      const pre = yield* jobs.withToken(runner.preprocess(req.exe, c.preprocessArgs, { cwd: req.cwd, env: req.env })).pipe(Effect.result)
      if (pre._tag === "Failure" || pre.success.exitCode !== 0) return skip("preprocessing failed")
      const key = msvcKey({ compiler, driver: req.exe, compilation: c, cwd: req.cwd, env: req.env, sourceDigest: pre.success.digest })
      return { key, mode: "preprocessor", read: [c.input, ...[...pre.success.includes].filter((f) => f !== c.input)] } satisfies ResultKey
    })

  const family: Family = {
    accepts: isMsvcDriver,
    prepare: Effect.fn("MsvcFamily.prepare")(function*(req: CompileRequest, compiler: CompilerInfo) {
      const args = expandResponseFiles(req.args, readUtf8(req.cwd), splitWindowsCommandLine)
      if (args === undefined) return skip("response files nested too deep")
      const parsed = parseMsvcArgs(args, isDir(req.cwd), knowsColonOutput(compiler))
      if (parsed._tag === "NotCacheable") return skip(parsed.reason, parsed.nonCompilation === true)
      const c = parsed.compilation
      const view = pathView(!c.recordsPaths, req.cwd, config.basedirs)
      let direct: Direct | undefined
      if (config.direct) {
        const input = digests.digest(path.resolve(req.cwd, c.input))
        if (input === undefined) return skip("input file missing")
        if (!input.timeMacros) {
          direct = {
            manifestKey: msvcManifestKey({ compiler, driver: req.exe, compilation: c, cwd: req.cwd, env: req.env, input: view.key(c.input), inputDigest: input.digest }),
            view,
            input: c.input,
            depFile: undefined,
            depTargets: [],
            searchDirs: searchDirs(JSON.stringify([req.exe, compiler.identity, req.cwd, c.probeArgs, req.env["INCLUDE"] ?? ""]), { req, c }),
            // Depend mode: /showIncludes lists every header as it is opened; lines the user didn't ask for are
            // taken out. Not where the object records its command line (/Z7): preprocessor mode learns it.
            depend: c.recordsPaths && !c.showIncludes ? undefined : {
              args: c.showIncludes ? req.args : [...req.args, "/showIncludes"],
              finish: (out) =>
                Effect.succeed({
                  out: out === undefined || c.showIncludes ? out : { ...out, stdout: Buffer.from(withoutShowIncludes(out.stdout.toString("utf8"))) },
                  read: out === undefined ? undefined : [c.input, ...parseShowIncludes(out.stdout.toString("utf8"))]
                })
            }
          }
        }
      }
      return {
        _tag: "Job",
        req,
        kind: statsKind(c.language, "msvc"),
        outputs: fixedOutputs(req, [{ role: "obj", file: c.output }]),
        args: req.args,
        direct,
        key: preprocessorKey(req, compiler, c)
      } satisfies Job
    })
  }
  return family
})
