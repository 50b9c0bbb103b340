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
  /** The text holds `.incbin`: the assembler will read a file the key knows nothing of. */
  readonly incbin: boolean
}

/** A signal death looks like a shell's exit status, so make and the user see a failure. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? (signal === null ? 1 : 128 + (SIGNALS[signal] ?? 0))
const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 }

const nextMarker = (text: string, from: number): number => {
  const i = text.indexOf("\n# ", from)
  return i < 0 ? -1 : i + 1
}

/**
 * Hashes preprocessor output as it streams. Line markers (`# 12 "dir/a.h" 2`) name the files
 * read; with `mapPath` their paths are rewritten before hashing (base directories), and the
 * rest of the text is hashed as it is.
 */
export class PreprocessedText {
  readonly files = new Set<string>()
  incbin = false
  private readonly hash = createHash("sha256")
  private tail = ""
  constructor(private readonly mapPath?: (file: string) => string) {}
  push(chunk: string): void {
    const text = this.tail + chunk
    const end = text.lastIndexOf("\n") + 1
    this.tail = text.slice(end)
    this.lines(text.slice(0, end))
  }
  digest(): string {
    this.lines(this.tail)
    this.tail = ""
    return this.hash.digest("hex")
  }
  private lines(text: string): void {
    if (!this.incbin && text.includes(".incbin")) this.incbin = true
    let from = 0
    let at = text.startsWith("# ") ? 0 : nextMarker(text, 0)
    while (at >= 0) {
      const eol = text.indexOf("\n", at)
      const line = text.slice(at, eol < 0 ? text.length : eol)
      const m = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line)
      if (m !== null) {
        const file = m[1]!.replace(/\\(.)/g, "$1")
        // Not `<built-in>`, nor gcc -g's `# 1 "/cwd//"`, which names the working directory, not a file read.
        if (!file.startsWith("<") && !file.endsWith("/")) this.files.add(file)
        if (this.mapPath !== undefined) {
          this.hash.update(text.slice(from, at))
          const mapped = file.startsWith("<") ? file : this.mapPath(file)
          this.hash.update(line.slice(0, 2) + line.slice(2, line.indexOf('"')) + JSON.stringify(mapped) + line.slice(m[0].length))
          from = eol < 0 ? text.length : eol
        }
      }
      at = eol < 0 ? -1 : nextMarker(text, eol)
    }
    this.hash.update(text.slice(from))
  }
}

/** Runs the real compiler: captured for the daemon, or straight onto the client's terminal. */
export class CompilerRunner extends Context.Service<CompilerRunner, {
  readonly run: (exe: string, args: ReadonlyArray<string>, opts: RunOptions) => Effect.Effect<CompilerOutput, CompilerSpawnError>
  readonly preprocess: (
    exe: string,
    args: ReadonlyArray<string>,
    opts: RunOptions & { readonly mapPath?: (file: string) => string }
  ) => Effect.Effect<PreprocessOutput, CompilerSpawnError>
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
        const text = new PreprocessedText(opts.mapPath)
        const decoder = new StringDecoder("utf8")
        const err: Array<Buffer> = []
        child.stdout.on("data", (b: Buffer) => text.push(decoder.write(b)))
        child.stderr.on("data", (b: Buffer) => err.push(b))
        child.on("error", (e) => resume(Effect.fail(new CompilerSpawnError({ exe, message: e.message }))))
        child.on("close", (code, signal) => {
          text.push(decoder.end())
          const digest = text.digest()
          resume(Effect.succeed({
            exitCode: exitStatus(code, signal),
            digest,
            stderr: Buffer.concat(err),
            includes: text.files,
            incbin: text.incbin
          }))
        })
        return Effect.sync(() => child.kill("SIGTERM"))
      })
  }))
}
