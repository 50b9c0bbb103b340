import { Effect, Layer } from "effect"
import * as path from "node:path"
import { EntryCache } from "../cache/EntryCache.ts"
import { CompilerDetector } from "../compiler/CompilerDetector.ts"
import { CompilerRunner } from "../compiler/CompilerRunner.ts"
import { IncludeSearch } from "../compiler/IncludeSearch.ts"
import { FileDigests } from "../cache/FileDigests.ts"
import { DaemonConfig, type Env, parseDaemonSettings, sharedWithSccache } from "../config/Config.ts"
import { effectiveConfig } from "../config/ConfigFile.ts"
import { ensureSocketDir } from "../config/SocketDir.ts"
import { socketPath } from "../config/SocketPath.ts"
import { Explain } from "../explain/Explain.ts"
import { KeyHistory } from "../explain/KeyHistory.ts"
import { Jobserver } from "../jobserver/Jobserver.ts"
import { DirectMode } from "../pipeline/DirectMode.ts"
import { Pipeline } from "../pipeline/Pipeline.ts"
import { LoggingLayer } from "../log/Logging.ts"
import { SpanTimingsLayer } from "../log/SpanTimings.ts"
import { Stats } from "../stats/Stats.ts"
import { Storage } from "../storage/Storage.ts"
import { localDiskStores, storageLayer } from "../storage/StorageLayer.ts"
import { VERSION_DIR } from "../storage/DiskStorage.ts"
import { KeptDigestsFile } from "../fs/KeptDigests.ts"
import { CompileService } from "./CompileService.ts"
import { DaemonServer } from "./DaemonServer.ts"

/**
 * The configured storage after its start-up probe: one that can't be read fails the layer (and
 * the daemon runs degraded); one that can only be read serves hits and stores nothing.
 */
const CheckedStorage = Layer.effect(Storage, Effect.gen(function*() {
  const storage = yield* Storage
  const mode = yield* storage.check
  if (mode === "read-write") return storage
  yield* Effect.logWarning(`${storage.location} is read-only: hits are served, nothing is stored`)
  return Storage.of({ ...storage, put: () => Effect.void })
}))

const describeError = (e: unknown): string => {
  const { variable, message } = e as { variable?: string; message?: string }
  return variable !== undefined ? `${variable}: ${message}` : String(message ?? e)
}

/** The daemon's runtime: the real services, or a degraded one that still answers every client. */
const daemonLayer = (processEnv: Env, socket: string) => {
  // The environment over sccache's config file; a broken file disables the cache, as a bad variable does.
  const { env, notice, error } = effectiveConfig(processEnv)
  const settings = parseDaemonSettings(env)
  const level = settings instanceof Error ? "warn" : settings.logLevel
  const idleTimeoutSeconds = settings instanceof Error ? 600 : settings.idleTimeoutSeconds
  const shown = settings instanceof Error ? { basedirs: [], direct: true } : { basedirs: settings.basedirs, direct: settings.direct }
  const base = Layer.mergeAll(Stats.layer, CompilerRunner.layer, Jobserver.fromEnv(env, process.ppid), KeyHistory.layer)
  const kept = Layer.succeed(
    KeptDigestsFile,
    settings instanceof Error || !localDiskStores(env) ? undefined : path.join(settings.cacheDir, VERSION_DIR, "toolchain-digests.json")
  )
  const compiles = error !== undefined
    ? Layer.effect(CompileService, Effect.fail(error))
    : CompileService.layer.pipe(Layer.provide(Pipeline.layer), Layer.provide(DirectMode.layer))
  const full = Layer.merge(compiles, Explain.layer).pipe(
    Layer.provide(Layer.mergeAll(FileDigests.layer, IncludeSearch.layer, kept)),
    Layer.provide(EntryCache.layer),
    Layer.provide(CompilerDetector.layer),
    Layer.provideMerge(CheckedStorage.pipe(Layer.provide(storageLayer(env)))),
    Layer.provide(DaemonConfig.fromEnv(env)),
    Layer.provideMerge(base)
  )
  const unavailable = (why: string) =>
    Layer.merge(CompileService.degraded(why), Explain.degraded(why)).pipe(
      Layer.provideMerge(Layer.succeed(Storage, Storage.of({
        location: `unavailable (${why})`,
        get: () => Effect.succeed(undefined),
        put: () => Effect.void,
        check: Effect.succeed("read-only"),
        size: Effect.succeed({})
      }))),
      Layer.provideMerge(base)
    )
  const services = full.pipe(
    Layer.catchCause((cause) => {
      const why = cause.reasons.map((r) => (r._tag === "Fail" ? describeError(r.error) : r._tag)).join("; ")
      return unavailable(`cache disabled: ${why}`).pipe(
        Layer.tap(() => Effect.logError(`sccache-ts: the cache could not start, compiling without it: ${why}`))
      )
    })
  )
  const warnings = Layer.effectDiscard(Effect.gen(function*() {
    if (notice !== undefined) yield* Effect.logWarning(notice)
    const shared = settings instanceof Error ? undefined : sharedWithSccache(settings.cacheDir)
    if (shared !== undefined) yield* Effect.logWarning(shared)
  }))
  return DaemonServer.layer({ socket, idleTimeoutSeconds, ...shown, ...(notice === undefined ? {} : { notice }) }).pipe(
    Layer.provide(Layer.merge(services, warnings)),
    Layer.provideMerge(level === "trace" ? Layer.merge(LoggingLayer(level), SpanTimingsLayer) : LoggingLayer(level))
  )
}

/** Runs a daemon in this process until it stops; resolves with the process exit code. */
export const runDaemon = (env: Env): Promise<number> => {
  const socket = socketPath(env)
  const dirError = ensureSocketDir(socket)
  if (dirError !== undefined) {
    process.stderr.write(`sccache-ts: error: ${dirError.message}\n`)
    return Promise.resolve(2)
  }
  const program = Effect.gen(function*() {
    const server = yield* DaemonServer
    yield* server.run
  }).pipe(
    Effect.provide(daemonLayer(env, socket)),
    Effect.as(0),
    Effect.catchTag("AlreadyRunning", () => Effect.succeed(0)),
    Effect.catchTag("DaemonStartError", (e) =>
      Effect.sync(() => {
        process.stderr.write(`sccache-ts: error: daemon could not start: ${e.message}\n`)
        return 2
      })
    )
  )
  return Effect.runPromise(program)
}
