/**
 * An S3-compatible server in the test process: fauxqs's app, bound to 127.0.0.1 (its own
 * `startFauxqs` listens on every interface). No auth; at most 11 MiB per request.
 */
import { buildApp } from "fauxqs"

export interface S3Server {
  readonly port: number
  readonly endpoint: string
  readonly createBucket: (name: string) => Promise<void>
  readonly stop: () => Promise<void>
}

export const startS3Server = async (opts: { readonly port?: number } = {}): Promise<S3Server> => {
  const app = buildApp({ logger: false })
  const address = await app.listen({ port: opts.port ?? 0, host: "127.0.0.1" })
  const port = Number(new URL(address).port)
  const endpoint = `http://127.0.0.1:${port}`
  return {
    port,
    endpoint,
    createBucket: async (name) => {
      // CreateBucket, path style; fauxqs checks no signature.
      const res = await fetch(`${endpoint}/${name}`, { method: "PUT" })
      if (!res.ok && res.status !== 409) throw new Error(`CreateBucket ${name}: HTTP ${res.status} ${await res.text()}`)
    },
    stop: () => app.close()
  }
}
