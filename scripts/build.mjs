// Builds dist/client.mjs (the client: one file, no Effect, started for every compile, run by the
// committed launcher bin/sccache-ts) and the parts it loads only when needed: the commands and
// the daemon. Nothing built names a path of this machine: the launcher finds its runtime itself.
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

await build({
  ...common,
  // Parses on Nodes too old to run it, so that they get a clear error instead of a SyntaxError.
  target: "node18",
  entryPoints: { client: path.join(root, "src", "bin", "main.ts") },
  outdir: path.join(root, "dist"),
  outExtension: { ".js": ".mjs" },
  // What a hit never runs (starting a daemon, compiling here) goes in chunks loaded when needed,
  // with the node: modules they import: on Bun, node:fs alone costs 4 ms of a start.
  splitting: true,
  chunkNames: "chunks/client-[name]-[hash]",
  plugins: [{
    name: "lazy-dist",
    setup(b) {
      b.onResolve({ filter: /(Commands|DaemonMain)\.ts$/ }, (args) => {
        const rel = path.relative(path.join(root, "src"), path.resolve(args.resolveDir, args.path))
        return LAZY[rel] ? { path: `./${LAZY[rel]}.js`, external: true } : undefined
      })
    }
  }]
})
console.error(`built ${pkg.version}+${buildId} → dist/ (node ${process.version})`)
