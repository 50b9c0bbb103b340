import { Context, Data, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { StringDecoder } from "node:string_decoder"

export class CompilerSpawnError extends Data.TaggedError("CompilerSpawnError")<{ readonly exe: string; readonly message: string }> {}

export interface RunOptions {
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

export interface CompilerOutput {
  readonly exitCode: number
  readonly stdout: Buffer
  readonly stderr: Buffer
}

export interface PreprocessOutput {
  readonly exitCode: number
  /** sha256 of everything the preprocessor wrote to stdout. */
  readonly digest: string
  readonly stderr: Buffer
  /** Files named by the `# <line> "<file>"` markers: the headers this compile read. */
  readonly includes: ReadonlySet<string>
}

/** A signal death looks like a shell's exit status, so make and the user see a failure. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? (signal === null ? 1 : 128 + (SIGNALS[signal] ?? 0))
const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 }

/** Pulls `"file"` out of preprocessor line markers (`# 12 "dir/a.h" 2`), across chunk borders. */
export class LineMarkerScanner {
  readonly files = new Set<string>()
  private tail = ""
  push(chunk: string): void {
    const text = this.tail + chunk
    const lines = text.split("\n")
    this.tail = lines.pop() ?? ""
    for (const line of lines) this.line(line)
  }
  end(): void {
    this.line(this.tail)
    this.tail = ""
  }
  private line(line: string): void {
    if (line.charCodeAt(0) !== 35 /* # */) return
    const m = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line)
    if (m === null) return
    const file = m[1]!.replace(/\\(.)/g, "$1")
    if (!file.startsWith("<")) this.files.add(file)
  }
}

/** Runs the real compiler: captured for the daemon, or straight onto the client's terminal. */
export class CompilerRunner extends Context.Service<CompilerRunner, {
  readonly run: (exe: string, args: ReadonlyArray<string>, opts: RunOptions) => Effect.Effect<CompilerOutput, CompilerSpawnError>
  readonly preprocess: (exe: string, args: ReadonlyArray<string>, opts: RunOptions) => Effect.Effect<PreprocessOutput, CompilerSpawnError>
}>()("sccache-ts/compiler/CompilerRunner") {
  static readonly layer = Layer.succeed(CompilerRunner, CompilerRunner.of({
    run: (exe, args, opts) =>
      Effect.callback<CompilerOutput, CompilerSpawnError>((resume) => {
        const child = spawn(exe, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] })
        const out: Array<Buffer> = []
        const err: Array<Buffer> = []
        child.stdout.on("data", (b: Buffer) => out.push(b))
        child.stderr.on("data", (b: Buffer) => err.push(b))
        child.on("error", (e) => resume(Effect.fail(new CompilerSpawnError({ exe, message: e.message }))))
        child.on("close", (code, signal) =>
          resume(Effect.succeed({ exitCode: exitStatus(code, signal), stdout: Buffer.concat(out), stderr: Buffer.concat(err) })))
        return Effect.sync(() => child.kill("SIGTERM"))
      }),
    preprocess: (exe, args, opts) =>
      Effect.callback<PreprocessOutput, CompilerSpawnError>((resume) => {
        const child = spawn(exe, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] })
        const hash = createHash("sha256")
        const scanner = new LineMarkerScanner()
        const decoder = new StringDecoder("utf8")
        const err: Array<Buffer> = []
        child.stdout.on("data", (b: Buffer) => {
          hash.update(b)
          scanner.push(decoder.write(b))
        })
        child.stderr.on("data", (b: Buffer) => err.push(b))
        child.on("error", (e) => resume(Effect.fail(new CompilerSpawnError({ exe, message: e.message }))))
        child.on("close", (code, signal) => {
          scanner.push(decoder.end())
          scanner.end()
          resume(Effect.succeed({
            exitCode: exitStatus(code, signal),
            digest: hash.digest("hex"),
            stderr: Buffer.concat(err),
            includes: scanner.files
          }))
        })
        return Effect.sync(() => child.kill("SIGTERM"))
      })
  }))
}
