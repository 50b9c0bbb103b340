// Builds dist/client.mjs (the client: one file, no Effect, started for every compile, run by the
// committed launcher bin/sccache-ts) and the parts it loads only when needed: the commands and
// the daemon. Nothing built names a path of this machine: the launcher finds its runtime itself.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { makeSnapshot } from "./snapshot.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))

// The build id changes with every source change, so a daemon from an older build is replaced.
const digest = createHash("sha256")
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p)
    else digest.update(p.slice(root.length)).update(fs.readFileSync(p))
  }
}
walk(path.join(root, "src"))
const buildId = digest.digest("hex").slice(0, 12)

/** The modules the entry point imports lazily: built into dist/, referenced from the client at run time. */
const LAZY = { "client/Commands.ts": "Commands", "daemon/DaemonMain.ts": "DaemonMain" }

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  // SCCACHE_TS_NO_MINIFY=1 keeps names and lines readable in CPU profiles (node --cpu-prof).
  ...(process.env.SCCACHE_TS_NO_MINIFY === "1" ? { minifySyntax: true } : { minify: true }),
  // Remote storage SDKs stay in node_modules: only the daemon loads them, and only when configured.
  external: ["@aws-sdk/*", "@google-cloud/*", "ioredis", "memjs"],
  define: {
    __SCCACHE_TS_VERSION__: JSON.stringify(pkg.version),
    __SCCACHE_TS_BUILD__: JSON.stringify(buildId)
  },
  logLevel: "warning"
}

fs.rmSync(path.join(root, "dist"), { recursive: true, force: true })
await build({
  ...common,
  entryPoints: Object.fromEntries(Object.entries(LAZY).map(([src, name]) => [name, path.join(root, "src", src)])),
  outdir: path.join(root, "dist"),
  splitting: true,
  chunkNames: "chunks/[name]-[hash]"
})

/**
 * The daemon's startup snapshot (see src/daemon/DaemonSnapshot.ts): the daemon as one CommonJS
 * file, which is what `node --build-snapshot` takes, made into dist/daemon.blob by this Node
 * (scripts/snapshot.mjs, which a package install runs too, for the installing Node).
 */
const isSdk = (p) => common.external.some((e) => (e.endsWith("/*") ? p.startsWith(e.slice(0, -1)) : p === e))
await build({
  ...common,
  format: "cjs",
  external: [],
  entryPoints: { "daemon-snapshot": path.join(root, "src", "daemon", "DaemonSnapshot.ts") },
  outdir: path.join(root, "dist"),
  outExtension: { ".js": ".cjs" },
  plugins: [{
    // A snapshot's code has no import() and its require takes only node: modules: a remote
    // backend's SDK is required from dist/, found through the entry the daemon is started with.
    name: "sdk-require",
    setup(b) {
      b.onResolve({ filter: /^[@a-z]/ }, (args) => (isSdk(args.path) ? { path: args.path, namespace: "sdk-require" } : undefined))
      b.onLoad({ filter: /.*/, namespace: "sdk-require" }, (args) => ({
        contents: `module.exports = require("node:module").createRequire(process.argv[1])(${JSON.stringify(args.path)})`,
        loader: "js"
      }))
      // node:crypto is loaded on first use, after the snapshot: one the snapshot holds crashes
      // Node in every worker thread that loads it again (the daemon hashes Rust's sysroot in some).
      b.onResolve({ filter: /^node:crypto$/ }, (args) =>
        args.namespace === "lazy-crypto" ? { path: "node:crypto", external: true } : { path: "node:crypto", namespace: "lazy-crypto" })
      // What src/ imports of it (esbuild fails the build on any other name).
      b.onLoad({ filter: /.*/, namespace: "lazy-crypto" }, () => ({
        contents: `let crypto
const load = () => (crypto ??= require("node:crypto"))
export const createHash = (...args) => load().createHash(...args)
export const randomBytes = (...args) => load().randomBytes(...args)
export const webcrypto = { get subtle() { return load().webcrypto.subtle } }`,
        loader: "js"
      }))
    }
  }]
})
const snapshot = makeSnapshot(path.join(root, "dist"))

/**
 * What a compile's client loads only when a hit is not enough: starting a daemon, compiling here,
 * the exact compiler lookup, the jobserver's descriptors. Each is a file of its own beside dist/client.mjs, with the node:
 * modules it imports, so that a hit loads one file and neither node:fs nor node:path (on Bun, 4
 * and 1.5 ms of a start); the little code they share with the hit path is in each.
 */
const CLIENT_LAZY = {
  "client/StartDaemon.ts": "client-StartDaemon",
  "client/RunHere.ts": "client-RunHere",
  "client/CompilerOnPath.ts": "client-CompilerOnPath",
  // Reads /proc with node:fs: compiling here without a jobserver doesn't load it.
  "jobserver/JobserverProc.ts": "client-JobserverProc"
}
const lazyOf = { ...Object.fromEntries(Object.entries(LAZY).map(([src, name]) => [src, `./${name}.js`])), ...Object.fromEntries(Object.entries(CLIENT_LAZY).map(([src, name]) => [src, `./${name}.mjs`])) }

const client = {
  ...common,
  // Parses on Nodes too old to run it, so that they get a clear error instead of a SyntaxError.
  target: "node18",
  outdir: path.join(root, "dist"),
  outExtension: { ".js": ".mjs" },
  plugins: [{
    name: "lazy-dist",
    setup(b) {
      b.onResolve({ filter: /(Commands|DaemonMain|StartDaemon|RunHere|CompilerOnPath|JobserverProc)\.ts$/ }, (args) => {
        const rel = path.relative(path.join(root, "src"), path.resolve(args.resolveDir, args.path))
        return lazyOf[rel] !== undefined && args.kind === "dynamic-import" ? { path: lazyOf[rel], external: true } : undefined
      })
    }
  }]
}
await build({ ...client, entryPoints: { client: path.join(root, "src", "bin", "main.ts") } })
await build({ ...client, entryPoints: Object.fromEntries(Object.entries(CLIENT_LAZY).map(([src, name]) => [name, path.join(root, "src", src)])) })
/**
 * For Bun, the same client precompiled to bytecode (dist/client-bun.js and its .jsc): JSC then
 * skips compiling each function on its first call, about 3 ms of every compile's start. Bun takes
 * bytecode without --compile only from CommonJS. The launcher runs it when it is there; Bun parses
 * the source instead when the bytecode is not its own (another Bun version, a damaged file).
 */
const bun = path.join(root, "node_modules", "bun", "bin", "bun.exe")
let bytecode = "no Bun here: the client has no bytecode build"
if (fs.existsSync(bun)) {
  const r = spawnSync(bun, ["build", path.join(root, "dist", "client.mjs"), "--target=bun", "--format=cjs", "--bytecode", "--external=./*", `--outdir=${path.join(root, "dist")}`, "--entry-naming=[name]-bun.[ext]"], { encoding: "utf8" })
  bytecode = r.status === 0 ? "dist/client-bun.js (bytecode) for Bun" : `bytecode build failed, Bun runs dist/client.mjs: ${(r.stderr || r.error?.message || "").trim()}`
}
console.error(`built ${pkg.version}+${buildId} → dist/ (node ${process.version}); ${bytecode}; ${snapshot}`)
