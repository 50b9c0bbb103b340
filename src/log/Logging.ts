import { Layer, Logger, References } from "effect"
import type { LogLevel } from "../config/Config.ts"

const EFFECT_LEVEL = { error: "Error", warn: "Warn", info: "Info", debug: "Debug", trace: "Trace" } as const

/** Logs go to stderr (the daemon's is the error log), never to a compiler's stdout. */
export const LoggingLayer = (level: LogLevel) =>
  Layer.mergeAll(
    Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)]),
    Layer.succeed(References.MinimumLogLevel, EFFECT_LEVEL[level])
  )
