import { Context, Effect, Layer, Semaphore } from "effect"
import * as os from "node:os"

/** Limits how many compilers the daemon runs at once: one token per CPU. */
export class Jobserver extends Context.Service<Jobserver, {
  readonly withToken: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly slots: number
}>()("sccache-ts/jobserver/Jobserver") {
  static readonly pool = (slots: number) =>
    Layer.effect(Jobserver, Effect.gen(function*() {
      const sem = yield* Semaphore.make(slots)
      return Jobserver.of({ withToken: (effect) => sem.withPermits(1)(effect), slots })
    }))
  static readonly layer = Jobserver.pool(Math.max(1, os.availableParallelism()))
}
