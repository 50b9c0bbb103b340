import { Context, Effect, Layer } from "effect"
import { explainMiss, type KeyInputs } from "./KeyInputs.ts"

/** Enough for a large build's recent compiles; a record is a few hundred bytes plus its headers. */
const MAX_RECORDS = 2048

/**
 * The key inputs of the daemon's recent compiles, newest last, bounded: what `--explain` and the
 * debug log compare a miss against. A miss is explained in the log at debug level as it happens.
 */
export class KeyHistory extends Context.Service<KeyHistory, {
  readonly record: (inputs: KeyInputs, outcome: "hit" | "miss") => Effect.Effect<void>
  /** Records of this source or this output, newest last. */
  readonly about: (source: string, output: string) => Effect.Effect<ReadonlyArray<KeyInputs>>
  readonly all: Effect.Effect<ReadonlyArray<KeyInputs>>
}>()("sccache-ts/explain/KeyHistory") {
  static readonly layer = Layer.sync(KeyHistory, () => {
    // Insertion order is age: a record seen again moves to the end.
    const records = new Map<string, KeyInputs>()
    const about = (source: string, output: string) =>
      [...records.values()].filter((r) => r.source === source || r.output === output)
    return KeyHistory.of({
      record: (inputs, outcome) =>
        Effect.gen(function*() {
          if (outcome === "miss") {
            const why = explainMiss(inputs, about(inputs.source, inputs.output))
            yield* Effect.logDebug(`cache miss for ${inputs.source}: ${why.join("; ")}`)
          }
          records.delete(inputs.key)
          records.set(inputs.key, inputs)
          if (records.size > MAX_RECORDS) records.delete(records.keys().next().value!)
        }),
      about: (source, output) => Effect.sync(() => about(source, output)),
      all: Effect.sync(() => [...records.values()])
    })
  })
}
