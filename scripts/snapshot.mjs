// Makes the daemon's startup snapshot, dist/daemon.blob, from dist/daemon-snapshot.cjs (see
// src/daemon/DaemonSnapshot.ts) with the Node running this, and names that Node in
// dist/daemon-snapshot.json: a blob loads into no other binary. Run by the build, and after a
// package install (postinstall), where the blob is made for the installing Node; in a clone
// `prepare` builds everything instead. It never fails an install: without a blob the daemon
// starts plainly.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Makes the blob in `dist`; says what it did, in a line for the build's output. */
export const makeSnapshot = (dist) => {
  const blob = path.join(dist, "daemon.blob")
  const fit = path.join(dist, "daemon-snapshot.json")
  fs.rmSync(fit, { force: true })
  fs.rmSync(blob, { force: true })
  const r = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", path.join(dist, "daemon-snapshot.cjs")], { encoding: "utf8" })
  // Node warns that child_process and worker_threads are "not yet fully verified" in snapshots: the
  // daemon only uses them once deserialized, never while the snapshot is built.
  const said = (r.stderr ?? "").split("\n").filter((l) => l.trim() !== "" && !/not yet fully verified|may still work in some cases|issue tracker|--trace-warnings/.test(l))
  if (r.status !== 0 || !fs.existsSync(blob)) {
    fs.rmSync(blob, { force: true })
    const why = said.find((l) => /^\w*Error\b/.test(l.trim())) ?? said.join(" ")
    return `no daemon snapshot, the daemon starts plainly: ${why.trim() || r.error?.message || `status ${r.status}`}`
  }
  if (said.length > 0) console.error(said.join("\n"))
  const node = fs.realpathSync(process.execPath)
  const st = fs.statSync(node)
  fs.writeFileSync(fit, JSON.stringify({ node, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) }) + "\n")
  return `${path.relative(process.cwd(), blob) || blob} (daemon startup snapshot) for ${node}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const dist = path.join(root, "dist")
  if (!fs.existsSync(path.join(root, "src")) && fs.existsSync(path.join(dist, "daemon-snapshot.cjs"))) {
    try {
      console.error(`sccache-ts: ${makeSnapshot(dist)}`)
    } catch (e) {
      console.error(`sccache-ts: no daemon snapshot, the daemon starts plainly: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}
