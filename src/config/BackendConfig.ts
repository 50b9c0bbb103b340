import { ConfigError, type Env, parseBool } from "./Config.ts"

/** The remote backends, in sccache's order of precedence when several are configured. */
const REMOTE_BACKENDS = ["s3", "redis", "memcached", "gcs"] as const
export type RemoteBackend = typeof REMOTE_BACKENDS[number]

interface Common {
  /** Prepended to every key as `prefix/`, without leading or trailing slashes; "" for none. */
  readonly keyPrefix: string
  readonly readOnly: boolean
}

export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

export interface S3Settings extends Common {
  readonly kind: "s3"
  readonly bucket: string
  /** A full URL (S3-compatible servers: MinIO, R2, …); undefined for AWS itself. */
  readonly endpoint: string | undefined
  readonly region: string
  /** `anonymous`: unsigned requests (public buckets); `chain`: the SDK's own credential chain. */
  readonly credentials: "anonymous" | "chain" | S3Credentials
}

export interface GcsSettings extends Common {
  readonly kind: "gcs"
  readonly bucket: string
  /** A service-account JSON key; without one the client uses Application Default Credentials. */
  readonly keyPath: string | undefined
  /** sccache-ts's addition, for emulators and private endpoints. */
  readonly endpoint: string | undefined
  readonly projectId: string | undefined
}

export interface RedisSettings extends Common {
  readonly kind: "redis"
  readonly tls: boolean
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  readonly password: string | undefined
  readonly db: number
  /** Seconds; 0 keeps entries until Redis evicts them. */
  readonly expiration: number
}

export interface MemcachedSettings extends Common {
  readonly kind: "memcached"
  /** `host:port`, as memjs takes them. */
  readonly servers: ReadonlyArray<string>
  /** Seconds; 0 keeps entries until memcached evicts them. */
  readonly expiration: number
}

export type RemoteSettings = S3Settings | GcsSettings | RedisSettings | MemcachedSettings

/** One level of the cache: the local disk or a remote. */
export type LevelSettings = "disk" | RemoteSettings

export interface BackendSettings {
  /**
   * The levels, fastest first: `SCCACHE_MULTILEVEL_CHAIN`'s, else the local disk (unless
   * `SCCACHE_LOCAL_DISK` is false) in front of the first configured remote, if any.
   */
  readonly levels: readonly [LevelSettings, ...Array<LevelSettings>]
  /** `SCCACHE_LOCAL_RW_MODE=READ_ONLY`: the local disk serves hits and stores nothing. */
  readonly localReadOnly: boolean
  /** Backends that were configured too but are not used; the daemon warns about them. */
  readonly ignored: ReadonlyArray<RemoteBackend>
  /** `SCCACHE_REMOTE_LOOKUP_TIMEOUT` in ms: the bound on a remote lookup and the start probe, if set. */
  readonly lookupTimeoutMs: number | undefined
}

const DEFAULT_REDIS_PORT = 6379
const DEFAULT_MEMCACHED_PORT = 11211
/** sccache's default: memcached has no "forever" worth trusting across restarts, a day is its choice. */
const DEFAULT_MEMCACHED_EXPIRATION = 86_400
/** Memcached reads a larger expiration as an absolute Unix time, which would expire every entry at once. */
const MAX_MEMCACHED_EXPIRATION = 30 * 86_400

const fail = (variable: string, message: string) => new ConfigError({ variable, message })

/**
 * Pure: a URL with its password (or a lone token) hidden, for messages and --show-stats. Works on
 * malformed URLs too, which are the ones echoed: everything up to the last `@` is the user part.
 */
export const redactUrl = (text: string): string => {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?([\s\S]*)@/i.exec(text)
  if (m === null) return text
  const userinfo = m[2]!
  const colon = userinfo.indexOf(":")
  const shown = colon === -1 ? "***" : `${userinfo.slice(0, colon)}:***`
  return `${m[1] ?? ""}${shown}@${text.slice(m[0].length)}`
}

const nonEmpty = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim()
  return v === undefined || v === "" ? undefined : v
}

/** sccache trims slashes: `/team/ci/` and `team/ci` name the same prefix. */
export const normalizePrefix = (raw: string | undefined): string => (raw ?? "").replace(/^\/+|\/+$/g, "")

const readOnlyFrom = (env: Env, name: string, fallback: boolean): boolean | ConfigError => {
  const v = nonEmpty(env, name)
  if (v === undefined) return fallback
  switch (v.toUpperCase()) {
    case "READ_ONLY":
      return true
    case "READ_WRITE":
      return false
    default:
      return fail(name, `must be READ_ONLY or READ_WRITE, got "${v}"`)
  }
}

const boolFrom = (env: Env, name: string, fallback: boolean): boolean | ConfigError => {
  const v = parseBool(env[name], fallback)
  return v === undefined ? fail(name, `not a boolean (true/false): "${env[name]}"`) : v
}

const secondsFrom = (env: Env, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number | ConfigError => {
  const v = nonEmpty(env, name)
  if (v === undefined) return fallback
  const n = Number(v)
  return /^\d+$/.test(v) && n <= max ? n : fail(name, `not a number of seconds (0 to ${max}): "${v}"`)
}

/** A positive number of seconds, fractions allowed, in milliseconds. */
const durationFrom = (env: Env, name: string): number | undefined | ConfigError => {
  const v = nonEmpty(env, name)
  if (v === undefined) return undefined
  const ms = Math.round(Number(v) * 1000)
  return /^\d+(\.\d+)?$/.test(v) && ms > 0 ? ms : fail(name, `not a number of seconds (like 5 or 0.5): "${v}"`)
}

const portFrom = (variable: string, text: string, fallback: number): number | ConfigError => {
  if (text === "") return fallback
  const n = Number(text)
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : fail(variable, `bad port "${text}"`)
}

const parseS3 = (env: Env, bucket: string): S3Settings | ConfigError => {
  const useSsl = boolFrom(env, "SCCACHE_S3_USE_SSL", true)
  if (useSsl instanceof ConfigError) return useSsl
  const noCredentials = boolFrom(env, "SCCACHE_S3_NO_CREDENTIALS", false)
  if (noCredentials instanceof ConfigError) return noCredentials
  const readOnly = readOnlyFrom(env, "SCCACHE_S3_RW_MODE", false)
  if (readOnly instanceof ConfigError) return readOnly
  const rawEndpoint = nonEmpty(env, "SCCACHE_ENDPOINT")
  // As sccache: an endpoint without a scheme gets https, or http when SCCACHE_S3_USE_SSL is false.
  const endpoint = rawEndpoint === undefined || /^https?:\/\//i.test(rawEndpoint)
    ? rawEndpoint
    : `${useSsl ? "https" : "http"}://${rawEndpoint}`
  if (endpoint !== undefined && !URL.canParse(endpoint)) return fail("SCCACHE_ENDPOINT", `not a URL: "${redactUrl(rawEndpoint!)}"`)
  const accessKeyId = nonEmpty(env, "AWS_ACCESS_KEY_ID")
  const secretAccessKey = nonEmpty(env, "AWS_SECRET_ACCESS_KEY")
  const sessionToken = nonEmpty(env, "AWS_SESSION_TOKEN")
  return {
    kind: "s3",
    bucket,
    endpoint,
    // Without a region the SDK refuses to start; S3-compatible servers mostly ignore it.
    region: nonEmpty(env, "SCCACHE_REGION") ?? nonEmpty(env, "AWS_REGION") ?? nonEmpty(env, "AWS_DEFAULT_REGION") ?? "us-east-1",
    credentials: noCredentials
      ? "anonymous"
      : accessKeyId !== undefined && secretAccessKey !== undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) }
      : "chain",
    keyPrefix: normalizePrefix(env["SCCACHE_S3_KEY_PREFIX"]),
    readOnly
  }
}

const parseGcs = (env: Env, bucket: string): GcsSettings | ConfigError => {
  // sccache's default for GCS alone: read-only unless asked otherwise.
  const readOnly = readOnlyFrom(env, "SCCACHE_GCS_RW_MODE", true)
  if (readOnly instanceof ConfigError) return readOnly
  const endpoint = nonEmpty(env, "SCCACHE_GCS_ENDPOINT")
  if (endpoint !== undefined && !URL.canParse(endpoint)) return fail("SCCACHE_GCS_ENDPOINT", `not a URL: "${redactUrl(endpoint)}"`)
  return {
    kind: "gcs",
    bucket,
    keyPath: nonEmpty(env, "SCCACHE_GCS_KEY_PATH"),
    endpoint,
    projectId: nonEmpty(env, "GOOGLE_CLOUD_PROJECT") ?? nonEmpty(env, "GCLOUD_PROJECT"),
    keyPrefix: normalizePrefix(env["SCCACHE_GCS_KEY_PREFIX"]),
    readOnly
  }
}

const parseRedis = (env: Env): RedisSettings | ConfigError | undefined => {
  const url = nonEmpty(env, "SCCACHE_REDIS")
  const endpoint = nonEmpty(env, "SCCACHE_REDIS_ENDPOINT")
  if (url === undefined && endpoint === undefined) return undefined
  // SCCACHE_REDIS carries everything; SCCACHE_REDIS_ENDPOINT takes the rest from separate variables.
  const variable = url !== undefined ? "SCCACHE_REDIS" : "SCCACHE_REDIS_ENDPOINT"
  const text = url ?? (/^[a-z]+:\/\//i.test(endpoint!) ? endpoint! : `redis://${endpoint}`)
  const parsed = URL.parse(text)
  if (parsed === null || !["redis:", "rediss:", "tcp:"].includes(parsed.protocol) || parsed.hostname === "") {
    return fail(variable, `expected redis://[[user]:password@]host[:port][/db] (or rediss://), got "${redactUrl(text)}"`)
  }
  const port = portFrom(variable, parsed.port, DEFAULT_REDIS_PORT)
  if (port instanceof ConfigError) return port
  const path = parsed.pathname.replace(/^\//, "")
  // The database is the URL's path or its `?db=` (sccache's documented form), else SCCACHE_REDIS_DB.
  const dbText = url !== undefined ? (parsed.searchParams.get("db") ?? path) : (nonEmpty(env, "SCCACHE_REDIS_DB") ?? "")
  if (!/^\d*$/.test(dbText)) return fail(url !== undefined ? variable : "SCCACHE_REDIS_DB", `bad database number "${dbText}"`)
  const expiration = secondsFrom(env, nonEmpty(env, "SCCACHE_REDIS_EXPIRATION") !== undefined ? "SCCACHE_REDIS_EXPIRATION" : "SCCACHE_REDIS_TTL", 0)
  if (expiration instanceof ConfigError) return expiration
  const readOnly = readOnlyFrom(env, "SCCACHE_REDIS_RW_MODE", false)
  if (readOnly instanceof ConfigError) return readOnly
  const fromUrl = (s: string) => (s === "" ? undefined : decodeURIComponent(s))
  return {
    kind: "redis",
    tls: parsed.protocol === "rediss:",
    // URL keeps the brackets of an IPv6 host; sockets want the bare address.
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    username: url !== undefined ? fromUrl(parsed.username) : nonEmpty(env, "SCCACHE_REDIS_USERNAME"),
    password: url !== undefined ? fromUrl(parsed.password) : nonEmpty(env, "SCCACHE_REDIS_PASSWORD"),
    db: dbText === "" ? 0 : Number(dbText),
    expiration,
    keyPrefix: normalizePrefix(env["SCCACHE_REDIS_KEY_PREFIX"]),
    readOnly
  }
}

const parseMemcached = (env: Env): MemcachedSettings | ConfigError | undefined => {
  const variable = nonEmpty(env, "SCCACHE_MEMCACHED") !== undefined ? "SCCACHE_MEMCACHED" : "SCCACHE_MEMCACHED_ENDPOINT"
  const text = nonEmpty(env, variable)
  if (text === undefined) return undefined
  const servers: Array<string> = []
  for (const item of text.split(/[\s,]+/).filter((s) => s !== "")) {
    const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:/\s]+)(?::(\d*))?\/?$/i.exec(item)
    if (m === null) return fail(variable, `expected tcp://host:port [tcp://host2:port …], got "${redactUrl(item)}"`)
    const port = portFrom(variable, m[2] ?? "", DEFAULT_MEMCACHED_PORT)
    if (port instanceof ConfigError) return port
    servers.push(`${m[1]}:${port}`)
  }
  const expiration = secondsFrom(env, "SCCACHE_MEMCACHED_EXPIRATION", DEFAULT_MEMCACHED_EXPIRATION, MAX_MEMCACHED_EXPIRATION)
  if (expiration instanceof ConfigError) return expiration
  const readOnly = readOnlyFrom(env, "SCCACHE_MEMCACHED_RW_MODE", false)
  if (readOnly instanceof ConfigError) return readOnly
  const keyPrefix = normalizePrefix(env["SCCACHE_MEMCACHED_KEY_PREFIX"])
  // Memcached keys cannot hold whitespace or control characters.
  if (/[\s\x00-\x1f\x7f]/.test(keyPrefix)) {
    return fail("SCCACHE_MEMCACHED_KEY_PREFIX", "must not contain whitespace or control characters")
  }
  return { kind: "memcached", servers, expiration, keyPrefix, readOnly }
}

const PARSERS: Record<RemoteBackend, (env: Env) => RemoteSettings | ConfigError | undefined> = {
  s3: (env) => {
    const bucket = nonEmpty(env, "SCCACHE_BUCKET")
    return bucket === undefined ? undefined : parseS3(env, bucket)
  },
  redis: parseRedis,
  memcached: parseMemcached,
  gcs: (env) => {
    const bucket = nonEmpty(env, "SCCACHE_GCS_BUCKET")
    return bucket === undefined ? undefined : parseGcs(env, bucket)
  }
}

/** Pure: `SCCACHE_MULTILEVEL_CHAIN` (`disk,redis,s3`) over the configured remotes, in its order. */
const parseChain = (text: string, configured: ReadonlyArray<RemoteSettings>): BackendSettings["levels"] | ConfigError => {
  const names = text.split(",").map((n) => n.trim().toLowerCase()).filter((n) => n !== "")
  const levels: Array<LevelSettings> = []
  for (const name of names) {
    if (levels.some((l) => (l === "disk" ? "disk" : l.kind) === name)) return fail("SCCACHE_MULTILEVEL_CHAIN", `"${name}" is named twice`)
    if (name === "disk") {
      levels.push("disk")
      continue
    }
    if (!(REMOTE_BACKENDS as ReadonlyArray<string>).includes(name)) {
      return fail("SCCACHE_MULTILEVEL_CHAIN", `"${name}" is not a level sccache-ts has (disk, ${REMOTE_BACKENDS.join(", ")})`)
    }
    const remote = configured.find((r) => r.kind === name)
    if (remote === undefined) return fail("SCCACHE_MULTILEVEL_CHAIN", `names ${name}, which is not configured`)
    levels.push(remote)
  }
  const [first, ...rest] = levels
  return first === undefined ? fail("SCCACHE_MULTILEVEL_CHAIN", "names no level") : [first, ...rest]
}

/**
 * Pure: the storage levels an environment asks for, with sccache's variables. Every configured
 * backend is validated (a typo in an unused one is still reported). Without a chain the first in
 * sccache's precedence wins (s3 > redis > memcached > gcs), behind the local disk.
 */
export const parseBackendSettings = (env: Env): BackendSettings | ConfigError => {
  const configured: Array<RemoteSettings> = []
  for (const backend of REMOTE_BACKENDS) {
    const settings = PARSERS[backend](env)
    if (settings instanceof ConfigError) return settings
    if (settings !== undefined) configured.push(settings)
  }
  const localDisk = boolFrom(env, "SCCACHE_LOCAL_DISK", true)
  if (localDisk instanceof ConfigError) return localDisk
  const localReadOnly = readOnlyFrom(env, "SCCACHE_LOCAL_RW_MODE", false)
  if (localReadOnly instanceof ConfigError) return localReadOnly
  const lookupTimeoutMs = durationFrom(env, "SCCACHE_REMOTE_LOOKUP_TIMEOUT")
  if (lookupTimeoutMs instanceof ConfigError) return lookupTimeoutMs
  const chain = nonEmpty(env, "SCCACHE_MULTILEVEL_CHAIN")
  let levels: BackendSettings["levels"] | ConfigError
  if (chain !== undefined) levels = parseChain(chain, configured)
  else {
    const remote = configured[0]
    if (remote === undefined && !localDisk) {
      return fail("SCCACHE_LOCAL_DISK", "is false but no remote backend is configured (SCCACHE_BUCKET, SCCACHE_REDIS, …)")
    }
    levels = remote === undefined ? ["disk"] : localDisk ? ["disk", remote] : [remote]
  }
  if (levels instanceof ConfigError) return levels
  const used = new Set(levels.map((l) => (l === "disk" ? "disk" : l.kind)))
  return { levels, localReadOnly, ignored: configured.map((s) => s.kind).filter((k) => !used.has(k)), lookupTimeoutMs }
}
