import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { admit, type Backoff, type BreakerState, closed, settle } from "../../src/storage/CircuitBreaker.ts"
import { makeRemoteStorage, type RemoteClient } from "../../src/storage/RemoteStorage.ts"
import { StorageError } from "../../src/storage/Storage.ts"

const BACKOFF: Backoff = { initialMs: 1_000, maxMs: 30_000 }

describe("circuit breaker transitions", () => {
  it("opens for the initial backoff after a call without an answer, then lets one trial through", () => {
    const [a1, s1] = admit(closed, 0)
    assert.strictEqual(a1, "call")
    const open = settle(s1, a1, "down", 5_000, BACKOFF)
    assert.deepStrictEqual(open, { _tag: "Open", until: 6_000, backoffMs: 1_000 })
    assert.strictEqual(admit(open, 5_999)[0], "skip")
    const [a2, trying] = admit(open, 6_000)
    assert.strictEqual(a2, "trial")
    // Others are skipped while the trial runs.
    assert.strictEqual(admit(trying, 6_001)[0], "skip")
    assert.deepStrictEqual(settle(trying, "trial", "answered", 6_010, BACKOFF), closed)
  })

  it("lets a read try while a write's trial is under way (a write waits much longer), but not a second write", () => {
    const open = settle(closed, "call", "down", 0, BACKOFF)
    const [a1, byWrite] = admit(open, 2_000, true)
    assert.strictEqual(a1, "trial")
    assert.strictEqual(admit(byWrite, 2_001, true)[0], "skip")
    const [a2, byRead] = admit(byWrite, 2_001)
    assert.strictEqual(a2, "trial")
    // Once a read is trying, everything else waits for it.
    assert.strictEqual(admit(byRead, 2_002)[0], "skip")
    assert.strictEqual(admit(byRead, 2_002, true)[0], "skip")
  })

  it("doubles the window after each failed trial, up to the maximum", () => {
    let s: BreakerState = settle(closed, "call", "down", 0, BACKOFF)
    const windows: Array<number> = []
    for (let i = 0; i < 7; i++) {
      const now = (s as { until: number }).until
      const [admission, trying] = admit(s, now)
      assert.strictEqual(admission, "trial")
      s = settle(trying, admission, "down", now, BACKOFF)
      windows.push((s as { until: number }).until - now)
    }
    assert.deepStrictEqual(windows, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
  })

  it("is not stretched by calls that were under way when it opened, and closes on any answer", () => {
    const open = settle(closed, "call", "down", 1_000, BACKOFF)
    assert.deepStrictEqual(settle(open, "call", "down", 1_500, BACKOFF), open)
    assert.deepStrictEqual(settle(open, "call", "interrupted", 1_500, BACKOFF), open)
    // An error the server sent (wrong password, value too large) is an answer too.
    assert.deepStrictEqual(settle(open, "call", "answered", 1_500, BACKOFF), closed)
  })

  it("after an interrupted trial, the next call tries again at once", () => {
    const open = settle(closed, "call", "down", 0, BACKOFF)
    const [admission, trying] = admit(open, 1_000)
    const after = settle(trying, admission, "interrupted", 1_200, BACKOFF)
    assert.strictEqual(admit(after, 1_200)[0], "trial")
  })
})

/** A remote whose server answers or hangs at the test's command, counting the calls that reach it. */
const fakeRemote = () => {
  const remote = { hang: true, calls: 0 }
  const client: RemoteClient = {
    backend: "redis",
    location: "Redis: redis://fake:6379/0",
    keyPrefix: "",
    readOnly: false,
    timeouts: { get: 5_000, put: 5_000, check: 5_000 },
    classify: () => "io",
    read: () => {
      remote.calls++
      return remote.hang ? new Promise(() => undefined) : Promise.resolve(undefined)
    },
    write: () => {
      remote.calls++
      return remote.hang ? new Promise(() => undefined) : Promise.resolve()
    }
  }
  return { remote, storage: makeRemoteStorage(client, BACKOFF) }
}

const reasonOf = <A>(self: Effect.Effect<A, StorageError>) =>
  Effect.map(Effect.flip(self), (e) => (e instanceof StorageError ? e.reason : "?"))

describe("circuit breaker in a remote storage (TestClock)", () => {
  it.effect("a hanging server costs one timeout per backoff window, not one per lookup", () =>
    Effect.gen(function*() {
      const { remote, storage } = fakeRemote()
      const first = yield* Effect.forkChild(reasonOf(storage.get("k1")))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(first), "timeout")
      // Skipped at once, without reaching the server, for the next second.
      for (let i = 0; i < 10; i++) assert.strictEqual(yield* reasonOf(storage.get(`k${i}`)), "unavailable")
      assert.strictEqual(yield* reasonOf(storage.put("k", new Uint8Array(1))), "unavailable")
      assert.strictEqual(remote.calls, 1)
      yield* TestClock.adjust("1 second")
      // One trial; the lookups beside it are skipped, not queued behind it.
      const trial = yield* Effect.forkChild(reasonOf(storage.get("k2")))
      yield* Effect.yieldNow
      assert.strictEqual(yield* reasonOf(storage.get("k3")), "unavailable")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(trial), "timeout")
      assert.strictEqual(remote.calls, 2)
      // Now two seconds.
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* reasonOf(storage.get("k4")), "unavailable")
      assert.strictEqual(remote.calls, 2)
      // The server is back: the next trial answers and everything goes through again.
      remote.hang = false
      yield* TestClock.adjust("1 milli")
      assert.isUndefined(yield* storage.get("k5"))
      assert.isUndefined(yield* storage.get("k6"))
      yield* storage.put("k7", new Uint8Array(1))
      assert.strictEqual(remote.calls, 5)
    }))

  it.effect("a success resets the backoff to its start", () =>
    Effect.gen(function*() {
      const { remote, storage } = fakeRemote()
      const hangOnce = function*() {
        const f = yield* Effect.forkChild(reasonOf(storage.get("k")))
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Fiber.join(f), "timeout")
      }
      yield* Effect.gen(hangOnce)
      yield* TestClock.adjust("1 second")
      yield* Effect.gen(hangOnce) // trial fails: two seconds now
      yield* TestClock.adjust("2 seconds")
      remote.hang = false
      assert.isUndefined(yield* storage.get("k"))
      remote.hang = true
      yield* Effect.gen(hangOnce)
      remote.hang = false
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* reasonOf(storage.get("k")), "unavailable")
      yield* TestClock.adjust("1 milli")
      assert.isUndefined(yield* storage.get("k"))
    }))
})
