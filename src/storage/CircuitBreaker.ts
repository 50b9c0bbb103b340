import { Cause, Clock, Effect, Exit, Result } from "effect"

/** How long a remote that stopped answering is left alone: `initialMs`, doubled after each failed try, up to `maxMs`. */
export interface Backoff {
  readonly initialMs: number
  readonly maxMs: number
}

/**
 * One second is about one compile: a server that was only restarting is back for the next files.
 * Thirty seconds bound what a long outage costs (one timeout per window) and how late a server
 * that came back is noticed.
 */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 }

/**
 * Closed: every call goes through. Open: calls are skipped until `until`; the first call after that
 * is a trial (state Trying), while the others are still skipped. The trial's outcome closes the
 * breaker, or opens it again for twice as long.
 */
export type BreakerState =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Open"; readonly until: number; readonly backoffMs: number }
  | { readonly _tag: "Trying"; readonly backoffMs: number; readonly byWrite: boolean }

export type Admission = "call" | "trial" | "skip"

/** How a call ended, for the breaker: the server answered (even with an error), did not, or nobody waited. */
export type CallOutcome = "answered" | "down" | "interrupted"

export const closed: BreakerState = { _tag: "Closed" }

/**
 * Pure: may a call start at `now`, and the state it leaves. A write's trial waits out a much longer
 * timeout than a read's, so it never holds lookups back: a read during it is a trial of its own.
 */
export const admit = (s: BreakerState, now: number, write = false): readonly [Admission, BreakerState] => {
  switch (s._tag) {
    case "Closed":
      return ["call", s]
    case "Open":
      return now < s.until ? ["skip", s] : ["trial", { _tag: "Trying", backoffMs: s.backoffMs, byWrite: write }]
    case "Trying":
      return s.byWrite && !write ? ["trial", { ...s, byWrite: false }] : ["skip", s]
  }
}

/** Pure: the state after a call admitted as `admission` ended with `outcome` at `now`. */
export const settle = (s: BreakerState, admission: Admission, outcome: CallOutcome, now: number, backoff: Backoff): BreakerState => {
  // Any answer means the server is back, even one from a call that started before the outage.
  if (outcome === "answered") return closed
  if (admission === "trial" && s._tag === "Trying") {
    // A trial nobody waited for proved nothing: the next call tries again.
    if (outcome === "interrupted") return { _tag: "Open", until: now, backoffMs: s.backoffMs }
    const backoffMs = Math.min(s.backoffMs * 2, backoff.maxMs)
    return { _tag: "Open", until: now + backoffMs, backoffMs }
  }
  // Calls that were already under way when it opened fail too: they must not stretch the window.
  if (outcome === "down" && s._tag === "Closed") return { _tag: "Open", until: now + backoff.initialMs, backoffMs: backoff.initialMs }
  return s
}

/** Pure: milliseconds until a call may go through again (0 while a trial is under way). */
const retryInMs = (s: BreakerState, now: number): number => (s._tag === "Open" ? Math.max(0, s.until - now) : 0)

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, isDown: (e: E) => boolean): CallOutcome => {
  if (Exit.isSuccess(exit)) return "answered"
  const error = Cause.findError(exit.cause)
  if (Result.isSuccess(error)) return isDown(error.success) ? "down" : "answered"
  return Cause.hasInterrupts(exit.cause) ? "interrupted" : "answered"
}

/**
 * A circuit breaker in front of one remote: after a call that got no answer (`isDown`), calls fail
 * at once with `skipped(retryInMs)` for a backoff window instead of each waiting for its own timeout.
 */
export const makeCircuitBreaker = <E>(backoff: Backoff, isDown: (e: E) => boolean) => {
  let state: BreakerState = closed
  return {
    guard: <A>(call: Effect.Effect<A, E>, skipped: (retryInMs: number) => E, write = false): Effect.Effect<A, E> =>
      // Admission and settling can't be separated by an interruption: a trial left in Trying would skip every call.
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const [admission, next] = admit(state, now, write)
          state = next
          if (admission === "skip") return Effect.fail(skipped(retryInMs(state, now)))
          return restore(call).pipe(
            Effect.onExit((exit) =>
              Effect.flatMap(Clock.currentTimeMillis, (end) =>
                Effect.sync(() => {
                  state = settle(state, admission, outcomeOf(exit, isDown), end, backoff)
                })
              )
            )
          )
        })
      )
  }
}
