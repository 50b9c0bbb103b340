// Builds bin/sccache-ts (the client's hot path: one file, no Effect, started for every compile)
// and dist/ (what it loads only when needed: the rest of the client, the commands, the daemon).
// bin/sccache-ts names in its shebang the Node that runs this build: the repository's pinned
// Node 24, never the system's.
import { build } from "esbuild"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

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

/** The modules the entry point imports lazily: built into dist/, referenced from bin/ at run time. */
const LAZY = { "client/ClientMain.ts": "ClientMain", "client/Commands.ts": "Commands", "daemon/DaemonMain.ts": "DaemonMain" }

const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minify: true,
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

const bin = path.join(root, "bin", "sccache-ts")
fs.mkdirSync(path.dirname(bin), { recursive: true })
await build({
  ...common,
  entryPoints: [path.join(root, "src", "bin", "main.ts")],
  outfile: bin,
  banner: { js: `#!${process.execPath}` },
  plugins: [{
    name: "lazy-dist",
    setup(b) {
      b.onResolve({ filter: /(ClientMain|Commands|DaemonMain)\.ts$/ }, (args) => {
        const rel = path.relative(path.join(root, "src"), path.resolve(args.resolveDir, args.path))
        return LAZY[rel] ? { path: `../dist/${LAZY[rel]}.js`, external: true } : undefined
      })
    }
  }]
})
fs.chmodSync(bin, 0o755)
console.error(`built ${pkg.version}+${buildId} → bin/sccache-ts, dist/ (node ${process.version})`)
