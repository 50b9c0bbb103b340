import { Schema, SchemaIssue } from "effect"
import type { Request } from "./Messages.ts"

/**
 * The daemon's decoder of requests: a frame is only trusted once it has the shape of Messages.ts
 * (a compile without env, a non-integer umask…). Beside Messages.ts, not in it, because the
 * client's bundle loads that file and must stay free of Effect.
 */
const CompileRequest = Schema.Struct({
  type: Schema.Literal("compile"),
  build: Schema.String,
  exe: Schema.String.check(Schema.isMinLength(1)),
  args: Schema.Array(Schema.String),
  cwd: Schema.String.check(Schema.isMinLength(1)),
  env: Schema.Record(Schema.String, Schema.String),
  umask: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o777 })),
  pid: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  lossy: Schema.optionalKey(Schema.Literal(true)),
  stderrTty: Schema.optionalKey(Schema.Boolean)
})

const Command = Schema.Struct({
  type: Schema.Literals(["stats", "zero-stats", "shutdown"]),
  build: Schema.String
})

const Explain = Schema.Struct({
  type: Schema.Literal("explain"),
  build: Schema.String,
  compile: Schema.optionalKey(CompileRequest)
})

const RequestSchema = Schema.Union([CompileRequest, Command, Explain])

const decode = Schema.decodeUnknownExit(RequestSchema)
const formatIssue = SchemaIssue.makeFormatterDefault()

/** A request, or why the frame is not one. */
export const decodeRequest = (frame: unknown): Request | { readonly malformed: string } => {
  const exit = decode(frame)
  if (exit._tag === "Success") return exit.value
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return { malformed: error?._tag === "Fail" ? formatIssue(error.error.issue) : "not a request" }
}

/** The build a frame says it comes from, whatever else it holds: another build's request may have another shape. */
export const requestBuild = (frame: unknown): string | undefined => {
  const build = typeof frame === "object" && frame !== null ? (frame as { build?: unknown }).build : undefined
  return typeof build === "string" ? build : undefined
}
