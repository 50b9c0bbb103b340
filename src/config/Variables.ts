/**
 * Every setting sccache-ts hears, and every sccache setting it does not: one row per variable,
 * with its key in sccache's config file where it has one. docs/configuration.md follows this table
 * (a test checks that it names every row), and the daemon names each unsupported setting it is
 * given in one warning line.
 */
export interface Variable {
  readonly name: string
  /** Its place in sccache's TOML config file (`cache.disk.dir`), if it has one. */
  readonly key?: string
  readonly meaning: string
  /** What a value may be. */
  readonly parse: string
  readonly supported: boolean
}

const v = (name: string, supported: boolean, meaning: string, parse: string, key?: string): Variable =>
  key === undefined ? { name, supported, meaning, parse } : { name, key, supported, meaning, parse }

const READ_MODE = "`READ_ONLY` or `READ_WRITE`"
const BOOL = "`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`; set and empty is true"

export const VARIABLES: ReadonlyArray<Variable> = [
  // The daemon and the client.
  v("SCCACHE_CONF", true, "the config file", "a path (relative: to the client's directory)"),
  v("SCCACHE_SERVER_UDS", true, "the daemon's Unix socket", "a path"),
  v("SCCACHE_SERVER_PORT", true, "a separate daemon, as sccache's port is (its own socket, `daemon-<port>.sock`); no TCP", "1 to 65535"),
  v("SCCACHE_SERVER_STARTUP_TIMEOUT_MS", true, "how long a client waits for a new daemon (sccache has only the file key; this variable is sccache-ts's)", "milliseconds (default 10000)", "server_startup_timeout_ms"),
  v("SCCACHE_IDLE_TIMEOUT", true, "seconds without work before the daemon exits; 0 never", "whole seconds"),
  v("SCCACHE_START_SERVER", true, "`1`: run as the daemon (what the client does to start one)", "`1`"),
  v("SCCACHE_LOG", true, "the daemon's log level", "`error`, `warn`, `info`, `debug`, `trace`, or an env_logger filter such as `sccache=debug`"),
  v("SCCACHE_ERROR_LOG", true, "the file the daemon logs to", "a path"),
  v("SCCACHE_DISABLE", true, "`1`: the client runs the compiler itself, never asking the daemon", "`1`"),
  v("SCCACHE_NO_DAEMON", false, "run the server in the foreground", "`1`"),
  v("SCCACHE_STARTUP_NOTIFY", false, "sccache's start-up notification socket", "a path"),
  v("SCCACHE_MAX_FRAME_LENGTH", false, "sccache's IPC frame limit", "bytes"),
  v("SCCACHE_IGNORE_SERVER_IO_ERROR", false, "sccache: compile locally when the server fails (sccache-ts always does)", "`1`"),
  v("SCCACHE_ALLOW_CORE_DUMPS", false, "let the server dump core", "`1`"),
  v("SCCACHE_LOG_MILLIS", false, "millisecond timestamps in the log", "any"),
  v("SCCACHE_CACHED_CONF", false, "sccache's cached-configuration file", "a path"),
  v("SCCACHE_CLIENT_SIDE", false, "sccache 0.17's client-side compiles", BOOL),
  // What is cached and how.
  v("SCCACHE_RECACHE", true, "set: compile and store anew, never looking up (counted as forced recaches)", "any"),
  v("SCCACHE_NO_CACHE", true, "set in a compile's environment: that compile runs without the cache (not looked up, not stored; counted as not cacheable)", "any"),
  v("SCCACHE_DIRECT", true, "direct mode (sccache's preprocessor cache mode)", BOOL, "cache.disk.preprocessor_cache_mode.use_preprocessor_cache_mode"),
  v("SCCACHE_BASEDIRS", true, "directories whose paths are made relative in keys", "absolute paths separated by `:` (or `;`); a TOML array in the file", "basedirs"),
  v("SCCACHE_C_CUSTOM_CACHE_BUSTER", true, "mixed into every C/C++ key", "any"),
  v("SCCACHE_EXTRAFILES", true, "files whose contents are mixed into every C/C++ key", "paths separated by `:`; relative: to the compile's directory"),
  v("SCCACHE_CACHE_ZSTD_LEVEL", true, "zstd level of new entries", "1 to 22 (default 3)"),
  v("SCCACHE_CACHE_MULTIARCH", false, "sccache's multi-architecture caching", BOOL),
  // The local disk.
  v("SCCACHE_DIR", true, "the local cache directory; entries go in its `sccache-ts-v1/` subfolder", "a path (relative: to the client's directory)", "cache.disk.dir"),
  v("SCCACHE_CACHE_SIZE", true, "the local cache's size limit", "bytes, or a number with `K`, `M`, `G`, `T` (powers of 1024)", "cache.disk.size"),
  v("SCCACHE_LOCAL_RW_MODE", true, "the local cache's mode", READ_MODE, "cache.disk.rw_mode"),
  v("SCCACHE_LOCAL_DISK", true, "sccache-ts: keep the local disk in front of a remote", BOOL),
  v("SCCACHE_MULTILEVEL_CHAIN", true, "the levels, fastest first: a lookup tries each, a hit is copied into the levels before it, a write goes to all", "names from `disk`, `s3`, `redis`, `memcached`, `gcs`, comma-separated"),
  v("SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY", false, "sccache's choice of which level's write errors fail a write", "`ignore`, `l0`, `all`"),
  v("SCCACHE_REMOTE_LOOKUP_TIMEOUT", true, "sccache-ts: bound on one remote lookup and the start-up probe", "seconds, fractions allowed"),
  // S3 and compatible servers.
  v("SCCACHE_BUCKET", true, "S3 bucket", "a name", "cache.s3.bucket"),
  v("SCCACHE_ENDPOINT", true, "S3 endpoint (MinIO, R2, …)", "a URL or host[:port]", "cache.s3.endpoint"),
  v("SCCACHE_REGION", true, "S3 region", "a region name", "cache.s3.region"),
  v("SCCACHE_S3_USE_SSL", true, "https for an endpoint given without a scheme", BOOL, "cache.s3.use_ssl"),
  v("SCCACHE_S3_KEY_PREFIX", true, "S3 key prefix", "a path", "cache.s3.key_prefix"),
  v("SCCACHE_S3_NO_CREDENTIALS", true, "unsigned requests (a public bucket)", BOOL, "cache.s3.no_credentials"),
  v("SCCACHE_S3_RW_MODE", true, "S3's mode", READ_MODE, "cache.s3.rw_mode"),
  v("SCCACHE_S3_SERVER_SIDE_ENCRYPTION", false, "S3 server-side encryption", BOOL, "cache.s3.server_side_encryption"),
  v("SCCACHE_S3_ENABLE_VIRTUAL_HOST_STYLE", false, "virtual-host-style S3 URLs", BOOL, "cache.s3.enable_virtual_host_style"),
  // Redis.
  v("SCCACHE_REDIS", true, "Redis, deprecated in sccache: everything in one URL", "`redis://[user:password@]host[:port][/db]` (or `?db=`), `rediss://`", "cache.redis.url"),
  v("SCCACHE_REDIS_ENDPOINT", true, "Redis server", "`redis://host[:port]` or `host[:port]`", "cache.redis.endpoint"),
  v("SCCACHE_REDIS_USERNAME", true, "Redis user", "a name", "cache.redis.username"),
  v("SCCACHE_REDIS_PASSWORD", true, "Redis password", "a string", "cache.redis.password"),
  v("SCCACHE_REDIS_DB", true, "Redis database", "a number", "cache.redis.db"),
  v("SCCACHE_REDIS_EXPIRATION", true, "Redis entries' time to live; 0 keeps them", "seconds", "cache.redis.expiration"),
  v("SCCACHE_REDIS_TTL", true, "an older name of SCCACHE_REDIS_EXPIRATION", "seconds"),
  v("SCCACHE_REDIS_KEY_PREFIX", true, "Redis key prefix", "a string", "cache.redis.key_prefix"),
  v("SCCACHE_REDIS_RW_MODE", true, "Redis's mode", READ_MODE, "cache.redis.rw_mode"),
  v("SCCACHE_REDIS_CLUSTER_ENDPOINTS", false, "a Redis cluster", "URLs, comma-separated", "cache.redis.cluster_endpoints"),
  // Memcached.
  v("SCCACHE_MEMCACHED", true, "an older name of SCCACHE_MEMCACHED_ENDPOINT", "as SCCACHE_MEMCACHED_ENDPOINT", "cache.memcached.url"),
  v("SCCACHE_MEMCACHED_ENDPOINT", true, "memcached servers", "`tcp://host[:port]`, space- or comma-separated", "cache.memcached.endpoint"),
  v("SCCACHE_MEMCACHED_EXPIRATION", true, "memcached entries' time to live", "seconds, at most 30 days (default 1 day)", "cache.memcached.expiration"),
  v("SCCACHE_MEMCACHED_KEY_PREFIX", true, "memcached key prefix", "a string without spaces", "cache.memcached.key_prefix"),
  v("SCCACHE_MEMCACHED_RW_MODE", true, "memcached's mode", READ_MODE, "cache.memcached.rw_mode"),
  v("SCCACHE_MEMCACHED_USERNAME", false, "memcached SASL user", "a name", "cache.memcached.username"),
  v("SCCACHE_MEMCACHED_PASSWORD", false, "memcached SASL password", "a string", "cache.memcached.password"),
  // Google Cloud Storage.
  v("SCCACHE_GCS_BUCKET", true, "GCS bucket", "a name", "cache.gcs.bucket"),
  v("SCCACHE_GCS_KEY_PATH", true, "a service account's JSON key", "a path", "cache.gcs.cred_path"),
  v("SCCACHE_GCS_KEY_PREFIX", true, "GCS key prefix", "a path", "cache.gcs.key_prefix"),
  v("SCCACHE_GCS_RW_MODE", true, "GCS's mode (read-only unless set)", READ_MODE, "cache.gcs.rw_mode"),
  v("SCCACHE_GCS_ENDPOINT", true, "sccache-ts: a GCS endpoint (emulators)", "a URL"),
  v("SCCACHE_GCS_CREDENTIALS_URL", false, "GCS credentials from a URL", "a URL", "cache.gcs.credential_url"),
  v("SCCACHE_GCS_OAUTH_URL", false, "GCS OAuth URL", "a URL", "cache.gcs.oauth_url"),
  v("SCCACHE_GCS_SERVICE_ACCOUNT", false, "GCS service account to impersonate", "an e-mail", "cache.gcs.service_account"),
  // Backends sccache-ts does not have.
  v("SCCACHE_GHA_ENABLED", false, "the GitHub Actions cache backend", BOOL),
  v("SCCACHE_GHA_VERSION", false, "the GitHub Actions cache backend", "a string", "cache.gha.version"),
  v("SCCACHE_GHA_CACHE_URL", false, "the GitHub Actions cache backend", "a URL", "cache.gha.url"),
  v("SCCACHE_GHA_RUNTIME_TOKEN", false, "the GitHub Actions cache backend", "a token", "cache.gha.token"),
  v("SCCACHE_GHA_CACHE_TO", false, "the GitHub Actions cache backend", "a key", "cache.gha.cache_to"),
  v("SCCACHE_GHA_CACHE_FROM", false, "the GitHub Actions cache backend", "keys", "cache.gha.cache_from"),
  v("SCCACHE_AZURE_CONNECTION_STRING", false, "the Azure Blob backend", "a connection string", "cache.azure.connection_string"),
  v("SCCACHE_AZURE_BLOB_CONTAINER", false, "the Azure Blob backend", "a name", "cache.azure.container"),
  v("SCCACHE_AZURE_KEY_PREFIX", false, "the Azure Blob backend", "a path", "cache.azure.key_prefix"),
  v("SCCACHE_WEBDAV_ENDPOINT", false, "the WebDAV backend", "a URL", "cache.webdav.endpoint"),
  v("SCCACHE_WEBDAV_KEY_PREFIX", false, "the WebDAV backend", "a path", "cache.webdav.key_prefix"),
  v("SCCACHE_WEBDAV_USERNAME", false, "the WebDAV backend", "a name", "cache.webdav.username"),
  v("SCCACHE_WEBDAV_PASSWORD", false, "the WebDAV backend", "a string", "cache.webdav.password"),
  v("SCCACHE_WEBDAV_TOKEN", false, "the WebDAV backend", "a token", "cache.webdav.token"),
  v("SCCACHE_OSS_BUCKET", false, "the Alibaba OSS backend", "a name", "cache.oss.bucket"),
  v("SCCACHE_OSS_ENDPOINT", false, "the Alibaba OSS backend", "a URL", "cache.oss.endpoint"),
  v("SCCACHE_OSS_KEY_PREFIX", false, "the Alibaba OSS backend", "a path", "cache.oss.key_prefix"),
  v("SCCACHE_OSS_NO_CREDENTIALS", false, "the Alibaba OSS backend", BOOL, "cache.oss.no_credentials"),
  v("SCCACHE_COS_BUCKET", false, "the Tencent COS backend", "a name", "cache.cos.bucket"),
  v("SCCACHE_COS_ENDPOINT", false, "the Tencent COS backend", "a URL", "cache.cos.endpoint"),
  v("SCCACHE_COS_KEY_PREFIX", false, "the Tencent COS backend", "a path", "cache.cos.key_prefix"),
  // Distributed compilation.
  v("SCCACHE_DIST_REQUEST_TIMEOUT", false, "distributed compilation", "seconds"),
  v("SCCACHE_DIST_SCHEDULER_URL", false, "distributed compilation", "a URL", "dist.scheduler_url")
]

const BY_NAME = new Map(VARIABLES.map((x) => [x.name, x]))
const BY_KEY = new Map(VARIABLES.filter((x) => x.key !== undefined).map((x) => [x.key!, x]))

export const variable = (name: string): Variable | undefined => BY_NAME.get(name)
export const variableForKey = (key: string): Variable | undefined => BY_KEY.get(key)

/**
 * Pure: the settings in `env` that sccache-ts does not act on: sccache's variables it does not
 * support, and any other `SCCACHE_` name (a typo, or one of a newer sccache) — never ignored in silence.
 */
export const unsupportedVariables = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> =>
  Object.keys(env)
    .filter((name) => name.startsWith("SCCACHE_") && env[name] !== undefined && BY_NAME.get(name)?.supported !== true)
    .sort()

/** Pure: the one line that names them (daemon log, and --show-stats' cache location). */
export const unsupportedNotice = (names: ReadonlyArray<string>): string | undefined =>
  names.length === 0 ? undefined : `not supported by sccache-ts, ignored: ${names.join(", ")}`
