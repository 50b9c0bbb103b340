import { Layer, Tracer } from "effect"

/** Pure: one span's log line, in the log's logfmt; `ms` has microsecond grain. */
export const spanLine = (name: string, parent: string | undefined, nanos: bigint): string =>
  `level=TRACE span=${name}${parent === undefined ? "" : ` parent=${parent}`} ms=${(Number(nanos / 1000n) / 1000).toFixed(3)}\n`

/**
 * At trace level, every span (each `Effect.fn` of the daemon) writes its duration to the log as
 * it ends: where a request's time goes, measured inside the daemon. Written straight to stderr
 * (the error log), since a span ends outside any fiber that could log.
 */
export const SpanTimingsLayer = Layer.succeed(
  Tracer.Tracer,
  Tracer.make({
    span(options) {
      const span = Tracer.nativeTracer.span(options)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        end(endTime, exit)
        const parent = options.parent._tag === "Some" && options.parent.value._tag === "Span" ? options.parent.value.name : undefined
        process.stderr.write(spanLine(options.name, parent, endTime - options.startTime))
      }
      return span
    }
  })
)
