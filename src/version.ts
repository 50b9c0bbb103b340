declare const __SCCACHE_TS_VERSION__: string | undefined
declare const __SCCACHE_TS_BUILD__: string | undefined

/** The release version, set by the bundler; tests that run the sources see "dev". */
export const VERSION: string = typeof __SCCACHE_TS_VERSION__ === "string" ? __SCCACHE_TS_VERSION__ : "0.0.0-dev"

/** Client and daemon talk only when this matches: the version plus a digest of the sources it was built from. */
export const BUILD_ID: string = typeof __SCCACHE_TS_BUILD__ === "string" ? `${VERSION}+${__SCCACHE_TS_BUILD__}` : VERSION
