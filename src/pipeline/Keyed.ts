import { Cache, Deferred, Duration, Effect, Equal, Exit, Hash } from "effect"

/**
 * Work under way, by key: the daemon's one protocol for "wait for the identical thing that is
 * already happening" (single flight of compiles, lookups that wait for a cache write).
 */
export interface Flights {
  /** Whether work for `key` is under way. */
  readonly busy: (key: string) => boolean
  /** Waits for the work under way for `key`, if any. */
  readonly wait: (key: string) => Effect.Effect<void>
  /**
   * Marks `keys` as under way from now until `work` ends (the caller runs it when it likes,
   * say after the reply). A later claim of the same key takes over from an earlier one.
   */
  readonly claim: <A, E, R>(keys: ReadonlyArray<string>, work: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeFlights = (): Flights => {
  const under = new Map<string, Deferred.Deferred<void>>()
  return {
    busy: (key) => under.has(key),
    wait: (key) => Effect.suspend(() => {
      const pending = under.get(key)
      return pending === undefined ? Effect.void : Deferred.await(pending)
    }),
    claim: (keys, work) => {
      const done = Deferred.makeUnsafe<void>()
      for (const k of keys) under.set(k, done)
      return work.pipe(Effect.ensuring(Effect.sync(() => {
        for (const k of keys) if (under.get(k) === done) under.delete(k)
        Deferred.doneUnsafe(done, Effect.void)
      })))
    }
  }
}

/**
 * Single flight: `work` for `key`, unless identical work is under way. Then this one waits for
 * it and runs `again` (a lookup, which now finds what that work stored), and `work` only when
 * that finds nothing either.
 */
export const singleFlight = <A>(
  flights: Flights,
  key: string,
  again: Effect.Effect<A | undefined>,
  work: Effect.Effect<A>
): Effect.Effect<A> =>
  // Claiming and the release that wakes the waiters can't be torn apart by an interruption.
  Effect.uninterruptibleMask((restore) =>
    flights.busy(key)
      ? restore(flights.wait(key).pipe(
        Effect.andThen(again),
        Effect.flatMap((found) => (found !== undefined ? Effect.succeed(found) : work))
      ))
      : flights.claim([key], restore(work))
  )

/** A memo key: equal by `id` alone, carrying what the computation needs. */
class MemoKey<I> implements Equal.Equal {
  readonly id: string
  readonly input: I
  constructor(id: string, input: I) {
    this.id = id
    this.input = input
  }
  [Equal.symbol](that: unknown): boolean {
    return that instanceof MemoKey && that.id === this.id
  }
  [Hash.symbol](): number {
    return Hash.string(this.id)
  }
}

/**
 * A bounded memo on Effect's Cache: callers asking for the same id at once share one
 * computation; a result `keep` rejects (or a failure) is not kept, so the next call tries again.
 */
export const makeMemo = <I, A, E = never>(
  compute: (input: I) => Effect.Effect<A, E>,
  options: { readonly capacity: number; readonly keep?: (a: A) => boolean }
): Effect.Effect<(id: string, input: I) => Effect.Effect<A, E>> =>
  Cache.makeWith((k: MemoKey<I>) => compute(k.input), {
    capacity: options.capacity,
    timeToLive: (exit) => (Exit.isSuccess(exit) && (options.keep?.(exit.value) ?? true) ? Duration.infinity : Duration.zero)
  }).pipe(Effect.map((cache) => (id: string, input: I) => Cache.get(cache, new MemoKey(id, input))))
