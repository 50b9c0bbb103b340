import type { Effect } from "effect"
import * as path from "node:path"
import { relativizePath } from "../cache/BaseDirs.ts"
import type { CacheEntry } from "../cache/CacheEntry.ts"
import type { StatsKind } from "../cache/Outcome.ts"
import type { OutputWriteError } from "../cache/OutputWriter.ts"
import type { CompilerInfo } from "../compiler/CompilerDetector.ts"
import type { CompilerOutput } from "../compiler/CompilerRunner.ts"
import type { Compiled, CompileRequest } from "../protocol/Messages.ts"

/**
 * What a compiler family supplies to the pipeline: everything that differs between gcc, MSVC,
 * nvcc and rustc. The pipeline does the rest (lookup, single flight, restore, run, race guard,
 * store after the reply) and returns one outcome value.
 */
export interface Family {
  /** Takes this invocation? The first family in the registry that does gets it. */
  readonly accepts: (compiler: CompilerInfo, req: CompileRequest) => boolean
  /** Parses the arguments and says how to key, run and store this compile. */
  readonly prepare: (req: CompileRequest, compiler: CompilerInfo) => Effect.Effect<Job | Skip>
}

/** An invocation the cache leaves alone: the client runs it as it is, and the reason is counted. */
export type Skip =
  | { readonly _tag: "NotCacheable"; readonly reason: string }
  | { readonly _tag: "NotCompilation"; readonly reason: string }

export const skip = (reason: string, nonCompilation = false): Skip =>
  nonCompilation ? { _tag: "NotCompilation", reason } : { _tag: "NotCacheable", reason }

/** A cacheable compile, as its family sees it. */
export interface Job {
  readonly _tag: "Job"
  /** The request as the family sees it (say, with its logical working directory). */
  readonly req: CompileRequest
  readonly kind: StatsKind
  readonly outputs: Outputs
  /** The real compile's arguments (depend mode adds its own). */
  readonly args: ReadonlyArray<string>
  /** Direct mode for this compile, when the family and the configuration allow it. */
  readonly direct: Direct | undefined
  /** The result key outside direct mode: computed only when direct mode had no answer. */
  readonly key: Effect.Effect<ResultKey | Skip>
  /** How a reply is shown to this client (say, diagnostics without colors); as it is by default. */
  readonly present?: (reply: Compiled) => Compiled
  /**
   * Records what a key was made of, for `--explain` to compare a later miss with; `known`: digests
   * already verified, by absolute path.
   */
  readonly remember?: (key: string, read: ReadonlyArray<string>, outcome: "hit" | "miss", known?: ReadonlyMap<string, string>) => Effect.Effect<void>
}

/** Stdout and stderr to replay. */
export interface Replay {
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
}

export interface Outputs {
  /** What the outputs are, for single flight: two compiles that write the same files. */
  readonly id: string
  /** Puts an entry's files in place; what to replay, or undefined when the entry is not this compile's. */
  readonly restore: (entry: CacheEntry) => Effect.Effect<Replay | undefined, OutputWriteError>
  /** A successful compile's outputs as an entry (`since`: when it started, Date.now()); undefined when one is missing. */
  readonly collect: (out: CompilerOutput, since: number) => Effect.Effect<CacheEntry | undefined>
}

export interface ResultKey {
  /** undefined: the family can't key this compile (say, a broken crate); it runs and is not stored. */
  readonly key: string | undefined
  /** How a hit on it is counted. */
  readonly mode: "preprocessor" | undefined
  /** The files the result was computed from: the race guard, and what direct mode learns. */
  readonly read: ReadonlyArray<string>
  /** The race guard: none of what the key was made from changed during the compile. Default: by file times. */
  readonly unchanged?: Effect.Effect<boolean>
}

/**
 * Direct mode: a manifest, keyed without running the preprocessor, lists earlier results with
 * the files each read (see Manifest.ts).
 */
export interface Direct {
  readonly manifestKey: string
  readonly view: PathView
  /** The source: its directory is one a header may come from. */
  readonly input: string
  /** The dependency file this invocation writes (a hit writes it from the manifest)… */
  readonly depFile: string | undefined
  /** …naming these targets (see verifiedDepText). */
  readonly depTargets: ReadonlyArray<string>
  /** The include search path, for the files that would shadow a header if they appeared. */
  readonly searchDirs: Effect.Effect<ReadonlyArray<string> | undefined>
  /** Compile at once and learn what it read from the compile itself; else preprocessor mode learns it. */
  readonly depend: Depend | undefined
}

export interface Depend {
  /** The compile's arguments, with what makes it list what it reads. */
  readonly args: ReadonlyArray<string>
  /**
   * After the run, however it went (it also cleans up): the output to reply with, and the files
   * the compile read (undefined when it didn't say).
   */
  readonly finish: (out: CompilerOutput | undefined) => Effect.Effect<{ readonly out: CompilerOutput | undefined; readonly read: ReadonlyArray<string> | undefined }>
}

/**
 * How paths enter keys for one compile. Paths under the working directory or a base directory
 * (SCCACHE_BASEDIRS) are made relative, so another build directory or checkout shares the
 * entries — unless the output records where it was built. Then every path is absolute.
 */
export interface PathView {
  readonly relocatable: boolean
  readonly bases: ReadonlyArray<string>
  readonly key: (file: string) => string
}

export const pathView = (relocatable: boolean, cwd: string, basedirs: ReadonlyArray<string>): PathView => {
  const bases = [...new Set([...basedirs, cwd])].sort((a, b) => b.length - a.length)
  return {
    relocatable,
    bases,
    key: relocatable ? (f) => relativizePath(path.resolve(cwd, f), cwd, bases) : (f) => path.resolve(cwd, f)
  }
}
