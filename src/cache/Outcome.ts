import type { Effect } from "effect"
import type { Compiled } from "../protocol/Messages.ts"

/** What a compile request is answered with: a reply, and work (the cache write) to do once it is sent. */
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

/**
 * Which counters a compile lands in: the language of sccache's `--show-stats` ("C/C++", "Rust")
 * and the compiler kind of its `--show-adv-stats` ("c [gcc]", "cuda [nvcc]", "rust").
 */
export interface StatsKind {
  readonly lang: string
  readonly adv: string
}

/** Why a finished compile was not stored (counted under sccache's "Non-cacheable reasons"). */
export type NotStored = string

/**
 * What happened to one compile request, as a value: the pipeline returns it, `Stats` counts it
 * (in one place), and the daemon sends its reply.
 */
export type Outcome =
  /** No family knows this compiler. */
  | { readonly _tag: "Unsupported"; readonly reply: CompileOutcome }
  /** A probe or link, not a compile (`--version`, `-vV`, linking): passed through. */
  | { readonly _tag: "NotCompilation"; readonly reply: CompileOutcome }
  /** A compile the cache can't model: the client runs it as it is. */
  | { readonly _tag: "NotCacheable"; readonly reason: string; readonly reply: CompileOutcome }
  | {
    readonly _tag: "Hit"
    readonly kind: StatsKind
    /** How the key was found; undefined where the family has only one way (rustc). */
    readonly mode: "direct" | "preprocessor" | undefined
    /** From the request's start (after parsing) to the outputs in place, in ms. */
    readonly ms: number
    /** Writing the outputs, in ms (part of `ms`). */
    readonly writeMs: number
    readonly reply: CompileOutcome
  }
  | {
    readonly _tag: "Miss"
    readonly kind: StatsKind
    /** SCCACHE_RECACHE: the lookup was skipped on purpose. */
    readonly recache: boolean
    /** The compiler's run; undefined when it could not be started (the client then runs it). */
    readonly run: { readonly ms: number; readonly exitCode: number } | undefined
    /** A successful compile that was not stored, and why. */
    readonly notStored: NotStored | undefined
    readonly reply: CompileOutcome
  }
  /** The cache failed this compile (an entry could not be put in place, or no cache at all). */
  | { readonly _tag: "CacheError"; readonly kind: StatsKind; readonly reply: CompileOutcome }

export const notCacheable = (reason: string): Outcome => ({ _tag: "NotCacheable", reason, reply: runLocally(reason) })
export const notCompilation = (reason: string): Outcome => ({ _tag: "NotCompilation", reply: runLocally(reason) })
