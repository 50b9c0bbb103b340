import type { Effect } from "effect"
import type { Compiled } from "../protocol/Messages.ts"

/** What a compile request ends in: a reply, and work (the cache write) to do once it is sent. */
export type CompileOutcome =
  | (Compiled & { readonly background?: Effect.Effect<void> })
  | { readonly type: "run-locally"; readonly reason: string }

export const compiled = (exitCode: number, stdout: Uint8Array, stderr: Uint8Array): Compiled => ({
  type: "compiled",
  exitCode,
  stdout: Buffer.from(stdout.buffer, stdout.byteOffset, stdout.byteLength).toString("base64"),
  stderr: Buffer.from(stderr.buffer, stderr.byteOffset, stderr.byteLength).toString("base64")
})

export const runLocally = (reason: string): CompileOutcome => ({ type: "run-locally", reason })
