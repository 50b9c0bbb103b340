import { Context, Data, type Effect } from "effect"

export type StorageFailure = "io" | "timeout" | "too-large" | "unavailable" | "auth"

export class StorageError extends Data.TaggedError("StorageError")<{
  readonly backend: string
  readonly op: "get" | "put" | "check"
  readonly reason: StorageFailure
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * No blob larger than this is stored or read back: a shared cache is input from others, and a
 * value of gigabytes planted in it must cost a refusal, not the daemon's memory.
 */
export const MAX_ENTRY_BYTES = 512 * 1024 * 1024

export type StorageMode = "read-write" | "read-only"

/**
 * Where entries live: one opaque blob per key. Every backend (disk, S3, GCS, Redis, Memcached,
 * multi-level) is a Layer of this service; the cache logic never knows which one it has.
 */
export interface StorageShape {
  /** What `--show-stats` prints as "Cache location", e.g. `Local disk: "/home/u/.cache/sccache-ts"`. */
  readonly location: string
  /** A missing key is `undefined`, never an error. */
  readonly get: (key: string) => Effect.Effect<Uint8Array | undefined, StorageError>
  readonly put: (key: string, blob: Uint8Array) => Effect.Effect<void, StorageError>
  /** Probes the backend at start: can it be read, and written? */
  readonly check: Effect.Effect<StorageMode, StorageError>
  /** Bytes in use and the limit, where the backend knows them. */
  readonly size: Effect.Effect<{ readonly current?: number; readonly max?: number }>
}

export class Storage extends Context.Service<Storage, StorageShape>()("sccache-ts/storage/Storage") {}
