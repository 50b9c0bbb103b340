/**
 * The hot path's few contacts with the runtime, in one place: on Bun its native socket, spawn, write
 * and stat (Bun's `node:net`, `node:child_process`, `node:fs` and `process.stdout` each cost more
 * start time than a whole hit's daemon work), on Node the `node:` modules, imported only there.
 */

/** The part of Bun's API used here (no @types/bun: the rest of the project is Node). */
interface BunSocket {
  write(data: Uint8Array): number
  end(): void
}
interface BunApi {
  connect(opts: {
    unix: string
    socket: {
      open(s: BunSocket): void
      data(s: BunSocket, chunk: Buffer): void
      drain(s: BunSocket): void
      close(s: BunSocket): void
      error(s: BunSocket, e: Error): void
      connectError(s: BunSocket, e: Error): void
    }
  }): Promise<unknown>
  spawn(cmd: ReadonlyArray<string>, opts: {
    stdio: Array<"inherit" | "ignore" | number>
    env?: Record<string, string>
    cwd?: string
    detached?: boolean
    onExit?: (proc: { readonly exitCode: number | null; readonly signalCode: string | null }) => void
  }): {
    readonly exited: Promise<number>
    readonly exitCode: number | null
    readonly signalCode: string | null
    unref(): void
  }
  listen(opts: { unix: string; socket: { open(s: BunSocket): void; data(s: BunSocket, chunk: Buffer): void } }): { stop(closeActive?: boolean): void }
  write(dest: unknown, data: Uint8Array): Promise<number>
  readonly stdout: unknown
  readonly stderr: unknown
  which(cmd: string, opts?: { PATH?: string }): string | null
  file(path: string): { stat(): Promise<FileStat> }
}

/** The part of a stat(2) result the client reads (Node's and Bun's Stats both have it). */
export interface FileStat {
  readonly dev: number
  readonly ino: number
  readonly mode: number
  readonly uid: number
  isFile(): boolean
  isDirectory(): boolean
  isSocket(): boolean
}

const bun = (globalThis as { Bun?: BunApi }).Bun

/** Which runtime runs the client: the benchmark and the tests tell them apart by this. */
export const runtimeName: "bun" | "node" = bun === undefined ? "node" : "bun"

/** One connection's events, whichever runtime carries it. */
export interface LinkEvents {
  readonly open: (send: (bytes: Uint8Array) => void) => void
  readonly data: (chunk: Buffer) => void
  /** `opened`: whether the connection was made before it failed (ENOENT, ECONNREFUSED … if not). */
  readonly fail: (code: string, opened: boolean) => void
  readonly end: () => void
}

const codeOf = (e: unknown): string => (e as { code?: string }).code ?? String((e as Error)?.message ?? e)

/** node:net, once loaded: Node's connect must start before connectUnix returns (see OurSocket). */
let nodeNet: typeof import("node:net") | undefined

/** Loads what connecting takes (on Node, node:net; nothing on Bun): call it before connectUnix. */
export const socketsReady = async (): Promise<void> => {
  if (bun === undefined) nodeNet ??= await import("node:net")
}

/**
 * Connects to a Unix socket, and has called connect(2) by the time it returns (a relative path
 * means the working directory of that moment); returns a function that closes the connection.
 */
export const connectUnix = (socket: string, ev: LinkEvents): () => void => {
  if (bun !== undefined) {
    let sock: BunSocket | undefined
    let pending: Uint8Array | undefined
    // Bun writes what the socket takes now; the rest goes out on drain.
    const flush = () => {
      if (sock === undefined || pending === undefined) return
      const n = sock.write(pending)
      pending = n >= pending.length ? undefined : pending.subarray(Math.max(n, 0))
    }
    bun.connect({
      unix: socket,
      socket: {
        open: (s) => {
          sock = s
          ev.open((bytes) => {
            pending = bytes
            flush()
          })
        },
        data: (_s, chunk) => ev.data(chunk),
        drain: flush,
        close: () => ev.end(),
        error: (_s, e) => ev.fail(codeOf(e), true),
        connectError: (_s, e) => ev.fail(codeOf(e), false)
      }
    }).catch((e) => ev.fail(codeOf(e), false))
    return () => sock?.end()
  }
  if (nodeNet === undefined) throw new Error("connectUnix before socketsReady")
  let opened = false
  const conn = nodeNet.createConnection(socket)
  conn.on("connect", () => {
    opened = true
    ev.open((bytes) => conn.write(bytes))
  })
  conn.on("data", ev.data)
  conn.on("error", (e) => ev.fail(codeOf(e), opened))
  conn.on("close", ev.end)
  return () => conn.destroy()
}

/** Descriptors for the child: the terminal's three, then the jobserver's under their own numbers. */
export type Stdio = Array<"inherit" | "ignore" | number>

export type Ran =
  | { readonly _tag: "Exited"; readonly code: number; readonly signal: string | undefined }
  | { readonly _tag: "NotStarted"; readonly code: string; readonly message: string }

/** Runs a program on our descriptors and environment (or `env`); how it ended. */
export const spawnInherit = async (exe: string, args: ReadonlyArray<string>, stdio: Stdio, env?: Record<string, string>): Promise<Ran> => {
  if (bun !== undefined) {
    try {
      const child = bun.spawn([exe, ...args], env === undefined ? { stdio } : { stdio, env })
      const code = await child.exited
      return { _tag: "Exited", code: child.exitCode ?? code, signal: child.signalCode ?? undefined }
    } catch (e) {
      return { _tag: "NotStarted", code: codeOf(e), message: (e as Error).message }
    }
  }
  const { spawn } = await import("node:child_process")
  return new Promise((resolve) => {
    const child = spawn(exe, args, env === undefined ? { stdio } : { stdio, env })
    child.on("error", (e) => resolve({ _tag: "NotStarted", code: codeOf(e), message: e.message }))
    child.on("close", (code, signal) => resolve({ _tag: "Exited", code: code ?? 1, signal: signal ?? undefined }))
  })
}

/**
 * Starts a program in a session of its own (a terminal's ^C and our exit leave it running), not
 * waited for: `exited` is told how it ended. Throws when it can't be started.
 */
export const spawnDetached = async (
  exe: string,
  args: ReadonlyArray<string>,
  opts: { readonly cwd: string; readonly env: Record<string, string>; readonly stderr: number | "ignore" },
  exited: (code: number | null, signal: string | null) => void
): Promise<void> => {
  const stdio: Stdio = ["ignore", "ignore", opts.stderr]
  if (bun !== undefined) {
    bun.spawn([exe, ...args], { cwd: opts.cwd, env: opts.env, stdio, detached: true, onExit: (p) => exited(p.exitCode, p.signalCode) }).unref()
    return
  }
  const { spawn } = await import("node:child_process")
  const child = spawn(exe, args, { cwd: opts.cwd, env: opts.env, stdio, detached: true })
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve)
    child.once("error", reject)
  })
  child.on("exit", exited)
  child.unref()
}

/**
 * Binds the abstract Unix socket `name` (it starts with NUL) as a lock that the kernel lets go when
 * we exit: undefined when another process holds it. On Bun its own listen: node:net costs 12 ms there.
 */
export const lockAbstract = async (name: string): Promise<{ readonly close: () => void } | undefined> => {
  if (bun !== undefined) {
    try {
      const server = bun.listen({ unix: name, socket: { open: (s) => s.end(), data: () => undefined } })
      return { close: () => server.stop(true) }
    } catch {
      return undefined
    }
  }
  const net = await import("node:net")
  return new Promise((resolve) => {
    const server = net.createServer((c) => c.destroy())
    server.once("error", () => resolve(undefined))
    server.listen(name, () => resolve({ close: () => server.close() }))
  })
}

/** Writes all of `bytes` to stdout (1) or stderr (2); false if the reader is gone (EPIPE). */
export const writeAll = (fd: 1 | 2, bytes: Uint8Array): Promise<boolean> => {
  if (bytes.length === 0) return Promise.resolve(true)
  if (bun !== undefined) return bun.write(fd === 1 ? bun.stdout : bun.stderr, bytes).then(() => true, () => false)
  const stream = fd === 1 ? process.stdout : process.stderr
  return new Promise((resolve) => {
    stream.once("error", () => resolve(false))
    stream.write(bytes, (e) => resolve(e == null))
  })
}

/** stat(2) of `path`, following symlinks, or the error's code (ENOENT …). */
export const statOf = async (path: string): Promise<FileStat | { readonly code: string }> => {
  try {
    if (bun !== undefined) return await bun.file(path).stat()
    const fs = await import("node:fs")
    return fs.statSync(path)
  } catch (e) {
    return { code: codeOf(e) }
  }
}

/**
 * Whether our stderr is a terminal (compilers colour their diagnostics then). On Bun, its binding
 * of Node's tty_wrap answers at once, where `node:tty` costs 13 ms; Node's own `node:tty` is cheap.
 */
export const stderrIsTerminal = async (): Promise<boolean> => {
  if (bun !== undefined) {
    try {
      return (process as unknown as { binding(name: "tty_wrap"): { isTTY(fd: number): boolean } }).binding("tty_wrap").isTTY(2)
    } catch { /* not in this Bun: the module below is slower, and right */ }
  }
  return (await import("node:tty")).isatty(2)
}

/** A program on PATH (Bun looks natively; Node needs no answer from this: it is its own Node). */
export const whichOnPath = (name: string, pathVar: string | undefined): string | undefined =>
  bun?.which(name, pathVar === undefined ? undefined : { PATH: pathVar }) ?? undefined
