import type { Effect } from "effect"
import type { Compiled } from "../protocol/Messages.ts"

/** What a compile request ends in: a reply, and work (the cache write) to do once it is sent. */
export type CompileOutcome =
  | (Compiled & { readonly background?: Effect.Effect<void> })
  | { readonly type: "run-locally"; readonly reason: string }

/** `signal`: the compiler died of it (never so for a cached result, which needs exit code 0). */
export const compiled = (exitCode: number, stdout: Uint8Array, stderr: Uint8Array, signal?: string): Compiled => ({
  type: "compiled",
  exitCode,
  stdout: Buffer.from(stdout.buffer, stdout.byteOffset, stdout.byteLength).toString("base64"),
  stderr: Buffer.from(stderr.buffer, stderr.byteOffset, stderr.byteLength).toString("base64"),
  ...(signal !== undefined ? { signal } : {})
})

export const runLocally = (reason: string): CompileOutcome => ({ type: "run-locally", reason })
