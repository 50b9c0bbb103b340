import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { depFromTemplate, depToTemplate } from "../../cache/BaseDirs.ts"
import { type CacheEntry, verifiedDigest } from "../../cache/CacheEntry.ts"
import { FileDigests } from "../../cache/FileDigests.ts"
import { KeyBuilder } from "../../cache/KeyBuilder.ts"
import { writeAtomically } from "../../cache/OutputWriter.ts"
import { fromEntryText, keyedEnv, rustKey, rustRoleAllowed, spellOutDir, toEntryText } from "../../cache/RustKey.ts"
import type { CompilerInfo } from "../../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../../compiler/CompilerRunner.ts"
import { expectedOutputs, isCrateOutput, parseDepInfo, parseRustArgs, type RustCompilation, withEnvValues } from "../../compiler/RustArgs.ts"
import { DaemonConfig } from "../../config/Config.ts"
import { Jobserver } from "../../jobserver/Jobserver.ts"
import type { CompileRequest } from "../../protocol/Messages.ts"
import { type Family, type Job, type Outputs, type ResultKey, skip } from "../../pipeline/Family.ts"
import { makeMemo } from "../../pipeline/Keyed.ts"
import { keptDigest, KeptDigestsFile } from "../../fs/KeptDigests.ts"

const KIND = { lang: "Rust", adv: "rust" }

/** A file's place in an entry: its name with the crate's stem as `*`, so a restore names it for this compile. */
const roleOf = (c: RustCompilation, name: string) => name.replace(c.stem, "*")
const nameOf = (c: RustCompilation, role: string): string | undefined =>
  /^(lib)?\*[^/]*$/.test(role) && !role.includes("..") ? role.replace("*", c.stem) : undefined

/** What a compile's text outputs name: --out-dir, paths under base directories, variables' values. */
interface Place {
  readonly cwd: string
  readonly outDir: string
  readonly basedirs: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

/** Where an entry keeps the digest of an output, restored byte for byte, for its dependents' keys. */
const digestMeta = (role: string) => `sha256:${role}`

/** The dep-info names sources and outputs by path; the rest is stored as it is. */
const isDepInfo = (role: string) => role.endsWith(".d")

const toEntryFile = (role: string, data: Uint8Array, at: Place): Uint8Array =>
  isDepInfo(role)
    ? Buffer.from(depToTemplate(toEntryText(data, spellOutDir(at.outDir, at.cwd, true)).toString("utf8"), at.cwd, at.basedirs))
    : data

/** The --out-dir marker goes first: a template's paths sit between NULs, and so does the marker. */
const fromEntryFile = (role: string, data: Uint8Array, at: Place): Uint8Array => {
  if (!isDepInfo(role)) return data
  const text = depFromTemplate(fromEntryText(data, spellOutDir(at.outDir, at.cwd, true)).toString("utf8"), at.cwd)
  return Buffer.from(withEnvValues(text, at.env))
}

/** Diagnostics name outputs by path too (cargo's artifact notices). */
const toEntryStderr = (data: Uint8Array, at: Place) => toEntryText(data, spellOutDir(at.outDir, at.cwd, false))
const fromEntryStderr = (data: Uint8Array, at: Place) => fromEntryText(data, spellOutDir(at.outDir, at.cwd, false))

/** What picks the toolchain a compile uses, beside the compiler itself. */
type Toolchain = Pick<RustCompilation, "sysroot" | "target">

/** The sources (with digests) and variables a crate was last seen to depend on, and what that depended on. */
interface CrateDeps {
  readonly sources: ReadonlyArray<readonly [file: string, digest: string]>
  readonly envDeps: ReadonlyArray<string>
  /** Digest of what else decides the source list: the compiler, externs, those variables' values. */
  readonly context: string
}

const realpath = (file: string): string => {
  try {
    return fs.realpathSync(file)
  } catch {
    return file
  }
}

/** Reads and hashes one file, on a thread of its own. */
const HASHER = `const { parentPort, workerData } = require("node:worker_threads")
const fs = require("node:fs")
const hash = require("node:crypto").createHash("sha256")
const fd = fs.openSync(workerData, "r")
const buf = Buffer.allocUnsafe(1 << 22)
for (let n; (n = fs.readSync(fd, buf)) > 0;) hash.update(buf.subarray(0, n))
parentPort.postMessage(hash.digest("hex"))`

/**
 * The digest of a sysroot library: hundreds of megabytes, hashed off the daemon's thread (which
 * keeps serving) and alongside the others.
 */
const hashLibrary = (file: string): Promise<string> =>
  new Promise((resolve) => {
    const worker = new Worker(HASHER, { eval: true, workerData: file })
    worker.once("message", resolve)
    // An unreadable library leaves its place in the key empty; the rest of the identity still holds.
    worker.once("error", () => resolve(""))
    worker.once("exit", () => resolve(""))
  })

const exists = <A>(xs: ReadonlyArray<readonly [A, string | undefined]>): xs is ReadonlyArray<readonly [A, string]> =>
  xs.every(([, d]) => d !== undefined)

/**
 * rustc: rlib and staticlib crates, keyed on the toolchain, the arguments, every source the
 * dep-info names, the --extern crates and the environment the crate reads. What a crate depends
 * on is memoised, so a hit with nothing changed runs no rustc at all.
 */
export const rustFamily = Effect.gen(function*() {
  const runner = yield* CompilerRunner
  const jobs = yield* Jobserver
  const config = yield* DaemonConfig
  const fileDigests = yield* FileDigests
  // The outputs this daemon wrote or saw made, by stamp: a dependent names each as an --extern,
  // moments after it was written, when FileDigests would read and hash it again.
  const produced = new Map<string, { readonly stamp: string; readonly digest: string }>()
  const stampOf = (file: string) => {
    try {
      const st = fs.statSync(file, { bigint: true, throwIfNoEntry: false })
      return st === undefined ? undefined : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
    } catch {
      return undefined // a symlink loop, a directory that can't be searched: no stamp
    }
  }
  const remember = (file: string, digest: string | undefined) => {
    const stamp = stampOf(file)
    if (stamp !== undefined && digest !== undefined) produced.set(file, { stamp, digest })
  }
  const digestOf = (file: string) => {
    const known = produced.get(file)
    if (known !== undefined && known.stamp === stampOf(file)) return known.digest
    return fileDigests.digest(file)?.digest
  }
  const crates = new Map<string, CrateDeps>()

  const digests = (files: ReadonlyArray<string>, cwd: string) =>
    Effect.sync(() => files.map((f) => [f, digestOf(path.resolve(cwd, f))] as const))

  /** The sysroot libraries' digests, kept across daemons beside the local cache's entries, when it stores. */
  const keptIn = yield* KeptDigestsFile
  const libraryDigest = (file: string) => (keptIn === undefined ? hashLibrary(file) : keptDigest(keptIn, file, hashLibrary))

  /** rustc -vV (in the compiler's identity), its sysroot, the sysroot's libraries and the target's. */
  const computeToolchain = ({ req, compiler, c }: { req: CompileRequest; compiler: CompilerInfo; c: Toolchain }) =>
    Effect.gen(function*() {
      const args = ["--print", "sysroot", ...(c.sysroot === undefined ? [] : ["--sysroot", c.sysroot])]
      const out = yield* runner.run(req.exe, args, { cwd: req.cwd, env: req.env }).pipe(Effect.option)
      if (out._tag === "None" || out.value.exitCode !== 0) return undefined
      const sysroot = out.value.stdout.toString("utf8").trim()
      const target = c.target?.endsWith(".json") ? path.basename(c.target, ".json") : c.target ??
        /^host: (.*)$/m.exec(compiler.version)?.[1] ?? ""
      return yield* Effect.promise(async () => {
        const b = new KeyBuilder().field("compiler", compiler.identity).field("sysroot", sysroot)
        const libDir = path.join(sysroot, "lib")
        const libs = (await fsp.readdir(libDir).catch(() => [])).filter((f) => /\.(so|dylib|dll)(\.|$)/.test(f)).sort()
        const libDigests = await Promise.all(libs.map((lib) => libraryDigest(path.join(libDir, lib))))
        for (const [i, lib] of libs.entries()) b.field(lib, libDigests[i]!)
        // The target's standard library: names carry its build hash, sizes catch a rebuild.
        const stdDir = path.join(libDir, "rustlib", target, "lib")
        const std = (await fsp.readdir(stdDir).catch(() => [])).sort()
        const sizes = await Promise.all(std.map((f) => fsp.stat(path.join(stdDir, f)).then((s) => `${f}:${s.size}`, () => f)))
        return b.list("std", sizes).digest()
      })
    })
  /** Once per toolchain however many compiles ask at once; a failure is not kept. */
  const toolchains = yield* makeMemo(computeToolchain, { capacity: 64, keep: (t) => t !== undefined })
  const toolchainOf = (req: CompileRequest, compiler: CompilerInfo, c: Toolchain) =>
    Effect.suspend(() => {
      // Behind a rustup proxy, the toolchain follows RUSTUP_TOOLCHAIN and the directory's override.
      const proxied = !/^rustc(\.exe)?$/.test(path.basename(realpath(req.exe)))
      const id = JSON.stringify([req.exe, compiler.identity, c.sysroot, c.target, req.env["RUSTUP_TOOLCHAIN"], proxied ? req.cwd : ""])
      return toolchains(id, { req, compiler, c })
    })

  /** The dep-info of a pre-pass (`--emit=dep-info` into a directory of its own), as sccache does. */
  const depInfo = (req: CompileRequest, c: RustCompilation) =>
    Effect.acquireUseRelease(
      Effect.promise(() => fsp.mkdtemp(path.join(os.tmpdir(), "sccache-ts-depinfo-"))),
      (dir) =>
        jobs.withToken(runner.run(req.exe, [...c.passArgs, "--emit=dep-info", "--out-dir", dir], { cwd: req.cwd, env: req.env })).pipe(
          Effect.flatMap((out) =>
            out.exitCode !== 0 ? Effect.succeed(undefined) : Effect.promise(() =>
              fsp.readFile(path.join(dir, `${c.stem}.d`), "utf8").then(parseDepInfo, () => undefined))
          ),
          Effect.orElseSucceed(() => undefined)
        ),
      (dir) => Effect.promise(() => fsp.rm(dir, { recursive: true, force: true }))
    )

  /**
   * What the crate depends on: the memo of its last compile with these arguments when none of
   * that changed since, else a fresh pre-pass. Undefined when the pre-pass fails (a broken crate).
   */
  const crateDeps = Effect.fn("RustFamily.crateDeps")(function*(req: CompileRequest, c: RustCompilation, context: (envDeps: ReadonlyArray<string>) => string) {
    const memoKey = new KeyBuilder().field("exe", req.exe).field("cwd", req.cwd).list("args", req.args).digest()
    const memo = crates.get(memoKey)
    if (memo !== undefined && memo.context === context(memo.envDeps)) {
      const now = yield* digests(memo.sources.map(([f]) => f), req.cwd)
      if (now.every(([, d], i) => d === memo.sources[i]![1])) return memo
    }
    const info = yield* depInfo(req, c)
    if (info === undefined) return undefined
    const sources = yield* digests(info.files, req.cwd)
    if (!exists(sources)) return undefined
    const deps: CrateDeps = { sources, envDeps: info.env, context: context(info.env) }
    crates.set(memoKey, deps)
    return deps
  })

  /** The crate's files in --out-dir, named by role; its text outputs rewritten for where it is. */
  /** `envDeps`: the variables the key covers, once known; a restored `# env-dep:` line shows only those. */
  const outputsOf = (req: CompileRequest, c: RustCompilation, at: Place, envDeps: () => ReadonlyArray<string>): Outputs => ({
    id: JSON.stringify([path.resolve(req.cwd, c.outDir), c.stem]),
    restore: Effect.fn("RustFamily.restore")(function*(entry: CacheEntry) {
      const mode = 0o666 & ~req.umask
      const names = entry.files.map((f) => (rustRoleAllowed(c, f.role) ? nameOf(c, f.role) : undefined))
      const place = { ...at, env: keyedEnv(req.env, envDeps()) }
      // An entry that lacks an output this compile makes, or names a file it doesn't, is not this compile's.
      if (names.some((n) => n === undefined) || !expectedOutputs(c).every((n) => names.includes(n))) return undefined
      for (const [i, f] of entry.files.entries()) {
        const file = path.resolve(req.cwd, c.outDir, names[i]!)
        yield* writeAtomically(file, fromEntryFile(f.role, f.data, place), mode)
        remember(file, yield* Effect.promise(() => verifiedDigest(f.data, entry.meta?.[digestMeta(f.role)])))
      }
      return { stdout: entry.stdout, stderr: fromEntryStderr(entry.stderr, at) }
    }),
    /**
     * What rustc wrote to --out-dir for this crate: every expected output, and its other files
     * written since the compile started; with the digests of the binary ones, which dependents key on.
     */
    collect: (out, since) =>
      Effect.promise(async () => {
        const dir = path.resolve(req.cwd, c.outDir)
        const expected = expectedOutputs(c)
        const files: Array<CacheEntry["files"][number]> = []
        const meta: Record<string, string> = {}
        for (const name of (await fsp.readdir(dir).catch(() => [])).filter((n) => isCrateOutput(c, n)).sort()) {
          const file = path.join(dir, name)
          const st = await fsp.stat(file).catch(() => undefined)
          // The filesystem's clock may run a little behind ours: allow a second.
          if (st === undefined || !st.isFile() || (!expected.includes(name) && st.mtimeMs < since - 1000)) continue
          const role = roleOf(c, name)
          if (!rustRoleAllowed(c, role)) continue
          const data = await fsp.readFile(file)
          if (!isDepInfo(role)) {
            meta[digestMeta(role)] = createHash("sha256").update(data).digest("hex")
            remember(file, meta[digestMeta(role)])
          }
          files.push({ role, mode: 0o644, data: toEntryFile(role, data, at) })
        }
        if (!expected.every((n) => files.some((f) => f.role === roleOf(c, n)))) return undefined
        return { exitCode: 0, stdout: out.stdout, stderr: toEntryStderr(out.stderr, at), files, meta }
      })
  })

  /** The key: the toolchain, and what the crate depends on (a pre-pass, or its memo). */
  const keyOf = (req: CompileRequest, compiler: CompilerInfo, c: RustCompilation, learnt: (envDeps: ReadonlyArray<string>) => void) =>
    Effect.gen(function*() {
      const libFile = (lib: string) =>
        c.libDirs.map((d) => path.resolve(req.cwd, d, `lib${lib}.a`)).find((f) => fs.existsSync(f)) ?? `lib${lib}.a`
      const externs = c.externs.map((e) => [e.name, e.file === undefined ? "" : digestOf(path.resolve(req.cwd, e.file))] as const)
      const staticLibs = c.staticLibs.map((l) => [l, digestOf(libFile(l))] as const)
      const targetSpec = c.target?.endsWith(".json") ? digestOf(path.resolve(req.cwd, c.target)) : undefined
      // rustc will say what is missing better than a key could.
      if (!exists(externs) || !exists(staticLibs)) return skip("missing --extern or static library")

      const context = (envDeps: ReadonlyArray<string>) =>
        new KeyBuilder().field("compiler", compiler.identity).list("externs", externs.map(([n, d]) => `${n}=${d}`))
          .list("env", envDeps.map((v) => `${v}=${req.env[v] ?? "\0unset"}`)).digest()
      // A fresh daemon's first compile learns the toolchain while the pre-pass runs.
      const [toolchain, deps] = yield* Effect.all([toolchainOf(req, compiler, c), crateDeps(req, c, context)], { concurrency: 2 })
      if (toolchain === undefined) return skip("rustc sysroot unknown")
      if (deps === undefined) return { key: undefined, mode: undefined, read: [] } satisfies ResultKey
      learnt(deps.envDeps)
      const sources = deps.sources
      return {
        key: rustKey({
          toolchain,
          compilation: c,
          cwd: req.cwd,
          env: req.env,
          sources,
          envDeps: deps.envDeps,
          externs,
          staticLibs,
          targetSpec,
          basedirs: config.basedirs
        }),
        mode: undefined,
        read: sources.map(([f]) => f),
        // By content: cargo may touch a source without changing it.
        unchanged: digests(sources.map(([f]) => f), req.cwd).pipe(Effect.map((after) => after.every(([, d], i) => d === sources[i]![1])))
      } satisfies ResultKey
    })

  const family: Family = {
    accepts: (compiler) => compiler.family === "rustc",
    prepare: Effect.fn("RustFamily.prepare")(function*(req: CompileRequest, compiler: CompilerInfo) {
      const parsed = parseRustArgs(req.args)
      if (parsed._tag === "NotCacheable") {
        // cargo probes rustc before it compiles anything: learn the toolchain meanwhile, off the build's path.
        if (parsed.nonCompilation === true) yield* Effect.forkDetach(toolchainOf(req, compiler, { sysroot: undefined, target: undefined }))
        return skip(parsed.reason, parsed.nonCompilation === true)
      }
      const c = parsed.compilation
      const at: Place = { cwd: req.cwd, outDir: c.outDir, basedirs: config.basedirs, env: req.env }
      let envDeps: ReadonlyArray<string> = []
      return {
        _tag: "Job",
        req,
        kind: KIND,
        outputs: outputsOf(req, c, at, () => envDeps),
        args: req.args,
        direct: undefined,
        key: keyOf(req, compiler, c, (e) => void (envDeps = e))
      } satisfies Job
    })
  }
  return family
})
