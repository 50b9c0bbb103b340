/**
 * An in-memory emulator of the part of the Google Cloud Storage JSON API that @google-cloud/storage
 * uses for objects: bucket creation, simple (multipart) uploads, downloads, metadata, listing and
 * deletion. No usable emulator runs here (see shared/reference/backends.md), and this one stays on
 * 127.0.0.1. Both URL layouts are served: `apiEndpoint` (`/storage/v1/b/…`) and
 * `STORAGE_EMULATOR_HOST` (`/b/…`).
 */
import { createHash } from "node:crypto"
import http from "node:http"
import type net from "node:net"

/** CRC-32C (Castagnoli), which the client checks in `x-goog-hash`; zlib's crc32 is the IEEE one. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

export const crc32c = (data: Uint8Array): number => {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** The base64 of the big-endian checksum, as GCS writes it in `crc32c` and `x-goog-hash`. */
const crc32cBase64 = (data: Uint8Array): string => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(crc32c(data))
  return b.toString("base64")
}

interface StoredObject {
  readonly data: Buffer
  readonly contentType: string
  readonly generation: number
  readonly updated: string
}

export interface GcsEmulator {
  readonly port: number
  readonly url: string
  readonly createBucket: (name: string) => void
  /** Object names in a bucket, for tests that check what was (not) written. */
  readonly list: (bucket: string, prefix?: string) => ReadonlyArray<string>
  readonly stop: () => Promise<void>
}

const metadata = (bucket: string, name: string, o: StoredObject) => ({
  kind: "storage#object",
  id: `${bucket}/${name}/${o.generation}`,
  name,
  bucket,
  generation: String(o.generation),
  metageneration: "1",
  contentType: o.contentType,
  size: String(o.data.length),
  md5Hash: createHash("md5").update(o.data).digest("base64"),
  crc32c: crc32cBase64(o.data),
  timeCreated: o.updated,
  updated: o.updated
})

/** Splits a multipart/related body into its parts' headers and bodies (binary-safe). */
const multipartParts = (body: Buffer, boundary: string): Array<{ headers: string; body: Buffer }> => {
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<{ headers: string; body: Buffer }> = []
  let at = body.indexOf(delimiter)
  while (at !== -1) {
    const start = at + delimiter.length
    if (body.subarray(start, start + 2).toString() === "--") break
    const next = body.indexOf(delimiter, start)
    if (next === -1) break
    const part = body.subarray(start + 2, next - 2) // past the CRLF after the delimiter, before the one ahead of the next
    const split = part.indexOf("\r\n\r\n")
    parts.push({ headers: part.subarray(0, split).toString(), body: part.subarray(split + 4) })
    at = next
  }
  return parts
}

export const startGcsEmulator = async (opts: { readonly port?: number } = {}): Promise<GcsEmulator> => {
  const buckets = new Map<string, Map<string, StoredObject>>()
  let generation = 1

  const send = (res: http.ServerResponse, status: number, body?: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
    res.writeHead(status, {
      ...(payload !== undefined && !Buffer.isBuffer(body) ? { "content-type": "application/json" } : {}),
      ...(payload === undefined ? {} : { "content-length": payload.length }),
      ...headers
    })
    res.end(payload)
  }
  const error = (res: http.ServerResponse, status: number, message: string) =>
    send(res, status, { error: { code: status, message, errors: [{ message, reason: status === 404 ? "notFound" : "invalid" }] } })

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    const url = new URL(req.url ?? "/", "http://emulator")
    const upload = url.pathname.startsWith("/upload/")
    // `/upload/storage/v1/b/…`, `/download/storage/v1/b/…`, `/storage/v1/b/…` and `/b/…` alike.
    const path = url.pathname.replace(/^\/(upload|download)(?=\/)/, "").replace(/^\/storage\/v1(?=\/)/, "")
    const segments = path.split("/").slice(1).map(decodeURIComponent)
    if (segments[0] !== "b") return error(res, 404, `no route for ${req.method} ${url.pathname}`)

    if (segments.length === 1 && req.method === "POST") {
      const { name } = JSON.parse(body.toString() || "{}") as { name?: string }
      if (!name) return error(res, 400, "bucket name required")
      if (!buckets.has(name)) buckets.set(name, new Map())
      return send(res, 200, { kind: "storage#bucket", id: name, name })
    }
    const bucketName = segments[1]!
    const bucket = buckets.get(bucketName)
    if (bucket === undefined) return error(res, 404, `bucket ${bucketName} not found`)
    if (segments[2] !== "o") return error(res, 404, `no route for ${req.method} ${url.pathname}`)
    const objectName = segments.slice(3).join("/")

    if (upload && req.method === "POST") {
      if (url.searchParams.get("uploadType") !== "multipart") return error(res, 501, "only uploadType=multipart is emulated")
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1]
      const parts = boundary === undefined ? [] : multipartParts(body, boundary)
      if (parts.length !== 2) return error(res, 400, "expected metadata and media parts")
      const meta = JSON.parse(parts[0]!.body.toString()) as { name?: string; contentType?: string }
      const name = url.searchParams.get("name") ?? meta.name
      if (!name) return error(res, 400, "object name required")
      const media = parts[1]!
      const stored: StoredObject = {
        data: Buffer.from(media.body),
        contentType: meta.contentType ?? /content-type:\s*(\S+)/i.exec(media.headers)?.[1] ?? "application/octet-stream",
        generation: generation++,
        updated: new Date().toISOString()
      }
      bucket.set(name, stored)
      return send(res, 200, metadata(bucketName, name, stored))
    }
    if (objectName === "" && req.method === "GET") {
      const prefix = url.searchParams.get("prefix") ?? ""
      const items = [...bucket].filter(([n]) => n.startsWith(prefix)).map(([n, o]) => metadata(bucketName, n, o))
      return send(res, 200, { kind: "storage#objects", items })
    }
    const stored = bucket.get(objectName)
    if (req.method === "DELETE") {
      if (stored === undefined) return error(res, 404, `object ${objectName} not found`)
      bucket.delete(objectName)
      return send(res, 204)
    }
    if (req.method === "GET") {
      if (stored === undefined) return error(res, 404, `No such object: ${bucketName}/${objectName}`)
      if (url.searchParams.get("alt") !== "media") return send(res, 200, metadata(bucketName, objectName, stored))
      const meta = metadata(bucketName, objectName, stored)
      return send(res, 200, stored.data, {
        "content-type": stored.contentType,
        "x-goog-hash": `crc32c=${meta.crc32c},md5=${meta.md5Hash}`,
        "x-goog-generation": meta.generation,
        "x-goog-stored-content-length": meta.size
      })
    }
    return error(res, 405, `${req.method} not emulated`)
  }

  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(chunks))
      } catch (e) {
        error(res, 500, String(e))
      }
    })
  })
  server.on("connection", (s) => {
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(opts.port ?? 0, "127.0.0.1", resolve)
  })
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    createBucket: (name) => void (buckets.has(name) || buckets.set(name, new Map())),
    list: (bucket, prefix = "") => [...(buckets.get(bucket)?.keys() ?? [])].filter((n) => n.startsWith(prefix)),
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
