import { Context, Data, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { StringDecoder } from "node:string_decoder"
import { assemblerReadsFiles } from "./Language.ts"

export class CompilerSpawnError extends Data.TaggedError("CompilerSpawnError")<{ readonly exe: string; readonly message: string }> {}

export interface RunOptions {
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

export interface CompilerOutput {
  readonly exitCode: number
  readonly stdout: Buffer
  readonly stderr: Buffer
  /** The compiler died of this signal. */
  readonly signal?: NodeJS.Signals
}

export interface PreprocessOutput {
  readonly exitCode: number
  /** sha256 of everything the preprocessor wrote to stdout. */
  readonly digest: string
  readonly stderr: Buffer
  /** Files named by the `# <line> "<file>"` markers: the headers this compile read. */
  readonly includes: ReadonlySet<string>
  /** The text holds `.incbin` or `.include`: the assembler will read a file the key knows nothing of. */
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
  private readonly mapPath: ((file: string) => string) | undefined
  constructor(mapPath?: (file: string) => string) {
    this.mapPath = mapPath
  }
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
    if (!this.incbin && assemblerReadsFiles(text)) this.incbin = true
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

/**
 * The umask of the client a compile runs for. The compiler runs under it, so its outputs get the
 * modes a plain run would give them (a process-wide `process.umask` would race other requests).
 */
export const ClientUmask = Context.Reference<number | undefined>("sccache-ts/compiler/ClientUmask", { defaultValue: () => undefined })

/** How long a cancelled compiler has to clean up (gcc deletes its partial outputs on SIGTERM) before SIGKILL. */
const CANCEL_GRACE_MS = 2000

/** Via the shell only to set the umask: `exec` keeps the pid, so signals and exit status are the compiler's. */
const UMASK_SCRIPT = 'umask "$0" && exec "$@"'

/**
 * The daemon's own umask (it never changes it), read without setting it. A client with the same
 * one, the usual case, gets its compiler spawned directly: no shell to start for every compile.
 */
const OWN_UMASK: number | undefined = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))
    return m === null ? undefined : parseInt(m[1]!, 8)
  } catch {
    return undefined
  }
})()

const signalGroup = (pid: number | undefined, signal: NodeJS.Signals) => {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch { /* already gone */ }
}

/**
 * Runs `exe` as the leader of a new process group, capturing stderr and passing stdout chunks to
 * `onStdout`. Interrupting the effect (the client went away) terminates the whole group (cc1,
 * as, ld too) and completes only once all of it has exited, so nothing writes an output after.
 */
const capture = <A>(
  exe: string,
  args: ReadonlyArray<string>,
  opts: RunOptions,
  umask: number | undefined,
  onStdout: (chunk: Buffer) => void,
  done: (status: { exitCode: number; signal: NodeJS.Signals | null; stderr: Buffer }) => A
) =>
  Effect.callback<A, CompilerSpawnError>((resume) => {
    const [file, argv] = umask === undefined || umask === OWN_UMASK ? [exe, args] : ["/bin/sh", ["-c", UMASK_SCRIPT, umask.toString(8), exe, ...args]]
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"], detached: true })
    const err: Array<Buffer> = []
    let exited = false
    let onExit = () => {}
    const finish = (result: Effect.Effect<A, CompilerSpawnError>) => {
      exited = true
      onExit()
      resume(result)
    }
    child.stdout.on("data", onStdout)
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("error", (e) => finish(Effect.fail(new CompilerSpawnError({ exe, message: e.message }))))
    child.on("close", (code, signal) => finish(Effect.succeed(done({ exitCode: exitStatus(code, signal), signal, stderr: Buffer.concat(err) }))))
    return Effect.callback<void>((stopped) => {
      if (exited) return stopped(Effect.void)
      const kill = setTimeout(() => signalGroup(child.pid, "SIGKILL"), CANCEL_GRACE_MS)
      onExit = () => {
        clearTimeout(kill)
        stopped(Effect.void)
      }
      signalGroup(child.pid, "SIGTERM")
    })
  })

/** Runs the real compiler: captured for the daemon, or straight onto the client's terminal. */
export class CompilerRunner extends Context.Service<CompilerRunner, {
  /** Under the client's umask (ClientUmask), when one is set. */
  readonly run: (exe: string, args: ReadonlyArray<string>, opts: RunOptions) => Effect.Effect<CompilerOutput, CompilerSpawnError>
  readonly preprocess: (
    exe: string,
    args: ReadonlyArray<string>,
    opts: RunOptions & { readonly mapPath?: (file: string) => string }
  ) => Effect.Effect<PreprocessOutput, CompilerSpawnError>
}>()("sccache-ts/compiler/CompilerRunner") {
  static readonly layer = Layer.succeed(CompilerRunner, CompilerRunner.of({
    run: (exe, args, opts) =>
      Effect.gen(function*() {
        const umask = yield* ClientUmask
        const out: Array<Buffer> = []
        return yield* capture(exe, args, opts, umask, (b) => out.push(b), ({ exitCode, signal, stderr }): CompilerOutput => ({
          exitCode,
          stdout: Buffer.concat(out),
          stderr,
          ...(signal !== null ? { signal } : {})
        }))
      }),
    preprocess: (exe, args, opts) =>
      Effect.suspend(() => {
        const text = new PreprocessedText(opts.mapPath)
        const decoder = new StringDecoder("utf8")
        return capture(exe, args, opts, undefined, (b) => text.push(decoder.write(b)), ({ exitCode, stderr }) => {
          text.push(decoder.end())
          const digest = text.digest()
          return { exitCode, digest, stderr, includes: text.files, incbin: text.incbin }
        })
      })
  }))
}
