/**
 * The client↔daemon messages: one request frame; then the daemon's keep-alive frames, if it takes
 * a while, and one response frame. No Effect here: the client's hot path loads this.
 */

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
  /**
   * argv, env or cwd held bytes that are not UTF-8, so the strings here are not what the compiler
   * would get: the daemon answers run-locally and the client runs the compiler with the raw bytes.
   */
  readonly lossy?: true
  /** The client's stderr is a terminal (for colored diagnostics). */
  readonly stderrTty?: boolean
}

export type Request =
  | CompileRequest
  | { readonly type: "stats"; readonly build: string }
  | { readonly type: "zero-stats"; readonly build: string }
  | { readonly type: "shutdown"; readonly build: string }
  /** Why this compile would miss (--explain), or every known manifest (--debug-preprocessor-cache). */
  | { readonly type: "explain"; readonly build: string; readonly compile?: CompileRequest }

export interface Compiled {
  readonly type: "compiled"
  readonly exitCode: number
  /** base64: compiler output is bytes, not always UTF-8. */
  readonly stdout: string
  readonly stderr: string
  /** The compiler died of this signal (e.g. "SIGSEGV"): the client re-raises it on itself. */
  readonly signal?: string
}

export type Response =
  | Compiled
  /** Not cacheable (or the daemon can't help): the client runs the compiler itself, on its own terminal. */
  | { readonly type: "run-locally"; readonly reason: string }
  | { readonly type: "stats"; readonly stats: unknown }
  | { readonly type: "explained"; readonly lines: ReadonlyArray<string> }
  | { readonly type: "ok" }
  | { readonly type: "version-mismatch"; readonly daemonBuild: string }
  | { readonly type: "error"; readonly message: string }
  /** A keep-alive, sent every second while the daemon works on the request; the answer follows. */
  | { readonly type: "busy" }
