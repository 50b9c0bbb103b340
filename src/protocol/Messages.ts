/** The client↔daemon messages: one JSON frame each way per connection. */

export interface CompileRequest {
  readonly type: "compile"
  readonly build: string
  /** Absolute path of the real compiler, already resolved by the client. */
  readonly exe: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** Restored outputs get the permissions the compiler would have given them under this umask. */
  readonly umask: number
  /** The client process: a make or cargo job's jobserver descriptors are reachable through /proc/<pid>/fd. */
  readonly pid?: number
  /** The client's stderr is a terminal (for colored diagnostics). */
  readonly stderrTty?: boolean
}

export type Request =
  | CompileRequest
  | { readonly type: "stats"; readonly build: string }
  | { readonly type: "zero-stats"; readonly build: string }
  | { readonly type: "shutdown"; readonly build: string }

export interface Compiled {
  readonly type: "compiled"
  readonly exitCode: number
  /** base64: compiler output is bytes, not always UTF-8. */
  readonly stdout: string
  readonly stderr: string
}

export type Response =
  | Compiled
  /** Not cacheable (or the daemon can't help): the client runs the compiler itself, on its own terminal. */
  | { readonly type: "run-locally"; readonly reason: string }
  | { readonly type: "stats"; readonly stats: unknown }
  | { readonly type: "ok" }
  | { readonly type: "version-mismatch"; readonly daemonBuild: string }
  | { readonly type: "error"; readonly message: string }
