import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { FileDigests } from "../../cache/FileDigests.ts"
import { CompilerDetector, type CompilerInfo } from "../../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../../compiler/CompilerRunner.ts"
import { parseDepFile } from "../../compiler/DepFile.ts"
import { parseSearchDirs } from "../../cache/Manifest.ts"
import { makeMemo } from "../../pipeline/Keyed.ts"
import { statsKind } from "../../compiler/Language.ts"
import type { CompileRequest } from "../../protocol/Messages.ts"
import { type Family, type Job, pathView, skip } from "../../pipeline/Family.ts"
import { fixedOutputs } from "../../pipeline/Outputs.ts"
import { type NvccCompilation, parseNvccArgs } from "./NvccArgs.ts"
import { nvccManifestKey } from "./NvccKey.ts"

/** An executable named `name` in the PATH of `env`, or undefined. */
const onPath = (name: string, env: Readonly<Record<string, string>>, cwd: string): string | undefined => {
  if (name.includes("/")) return path.resolve(cwd, name)
  for (const dir of (env["PATH"] ?? "").split(":").filter((d) => d !== "")) {
    const file = path.resolve(cwd, dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch { /* not here */ }
  }
  return undefined
}

/** The host compilers nvcc would run: -ccbin's (a file, or a directory holding gcc and g++), else NVCC_CCBIN's, else gcc and g++ on PATH. */
const hostCompilers = (c: NvccCompilation, req: CompileRequest): Array<string | undefined> => {
  const bin = c.hostCompiler ?? req.env["NVCC_CCBIN"]
  if (bin === undefined) return ["gcc", "g++"].map((n) => onPath(n, req.env, req.cwd))
  const at = onPath(bin, req.env, req.cwd)
  if (at !== undefined && fs.statSync(at, { throwIfNoEntry: false })?.isDirectory()) return ["gcc", "g++"].map((n) => onPath(path.join(at, n), req.env, req.cwd))
  return [at]
}

/**
 * nvcc: depend mode only. The key is nvcc's identity, the host compiler's, every argument (GPU
 * targets, -Xcompiler, …) and the source; the result adds every header nvcc's own -MD list names.
 * nvcc's objects differ from run to run (temporary names are baked in): a hit replays the first.
 */
export const nvccFamily = Effect.gen(function*() {
  const digests = yield* FileDigests
  const detector = yield* CompilerDetector
  const runner = yield* CompilerRunner

  /**
   * Where headers come from: the toolkit's include directories beside nvcc, and the host
   * compiler's search path (`-E -v`), asked once per pair.
   */
  const systemDirs = yield* makeMemo(({ nvcc, host, req }: { nvcc: string; host: string | undefined; req: CompileRequest }) =>
    Effect.gen(function*() {
      // The toolkit's root, as nvcc (often a wrapper script) reports it.
      const dry = yield* runner.run(nvcc, ["--dryrun", "-x", "cu", "-c", "/dev/null", "-o", "/dev/null"], { cwd: req.cwd, env: req.env }).pipe(Effect.option)
      const top = dry._tag === "Some" ? /^#\$ TOP=(.*)$/m.exec(dry.value.stderr.toString("utf8") + dry.value.stdout.toString("utf8"))?.[1] : undefined
      const root = path.resolve(req.cwd, top ?? path.join(path.dirname(fs.realpathSync(nvcc)), ".."))
      const toolkit = [path.join(root, "include"), path.join(root, "targets")]
      if (host === undefined) return toolkit
      const out = yield* runner.run(host, ["-x", "c++", "-E", "-v", "/dev/null"], { cwd: req.cwd, env: { ...req.env, LC_ALL: "C" } }).pipe(Effect.option)
      const listed = out._tag === "Some" && out.value.exitCode === 0 ? parseSearchDirs(out.value.stderr.toString("utf8")) : undefined
      return [...toolkit, ...(listed ?? [])]
    }), { capacity: 64 })

  const family: Family = {
    accepts: (compiler) => compiler.family === "nvcc",
    prepare: Effect.fn("NvccFamily.prepare")(function*(req: CompileRequest, compiler: CompilerInfo) {
      const parsed = parseNvccArgs(req.args)
      if (parsed._tag === "NotCacheable") return skip(parsed.reason, parsed.nonCompilation === true)
      const c = parsed.compilation
      const hosts: Array<string> = []
      const candidates = hostCompilers(c, req)
      const hostExe = candidates.findLast((h) => h !== undefined)
      for (const exe of candidates) {
        if (exe === undefined) continue
        const info = yield* detector.detect(exe, { cwd: req.cwd, env: req.env }).pipe(Effect.option)
        if (info._tag === "None") return skip("host compiler unknown")
        hosts.push(info.value.identity)
      }
      if (hosts.length === 0) return skip("host compiler unknown")
      const input = digests.digest(path.resolve(req.cwd, c.input))
      if (input === undefined) return skip("input file missing")
      if (input.timeMacros) return skip("time macros")
      const view = pathView(false, req.cwd, [])
      const tmpDep = path.join(os.tmpdir(), `sccache-ts-${process.pid}-${randomBytes(6).toString("hex")}.d`)
      return {
        _tag: "Job",
        req,
        kind: statsKind(c.language, "nvcc"),
        outputs: fixedOutputs(req, [{ role: "obj", file: c.output }]),
        args: req.args,
        direct: {
          manifestKey: nvccManifestKey({
            nvcc: compiler.identity,
            host: hosts.join("\n"),
            compilation: c,
            input: view.key(c.input),
            inputDigest: input.digest,
            cwd: req.cwd,
            env: req.env
          }),
          view,
          input: c.input,
          depFile: undefined,
          depTargets: [],
          searchDirs: systemDirs(JSON.stringify([req.exe, compiler.identity, hostExe, hosts]), { nvcc: req.exe, host: hostExe, req }).pipe(
            Effect.map((dirs) => [...c.includeDirs, ...dirs])
          ),
          // nvcc lists what both its passes read (a header only the device pass includes too).
          depend: {
            args: [...req.args, "-MD", "-MF", tmpDep],
            finish: (out) =>
              Effect.promise(async () => {
                const text = await fsp.readFile(tmpDep, "utf8").catch(() => undefined)
                await fsp.rm(tmpDep, { force: true })
                return { out, read: text === undefined ? undefined : parseDepFile(text) }
              })
          }
        },
        key: Effect.succeed(skip("nvcc is cached in depend mode only"))
      } satisfies Job
    })
  }
  return family
})
