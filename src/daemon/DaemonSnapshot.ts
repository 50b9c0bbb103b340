/**
 * The daemon as a V8 startup snapshot, for the first compile of a build (no daemon yet, as on every
 * fresh CI machine). The build runs this file under `node --build-snapshot` and writes
 * dist/daemon.blob; the client starts `node --snapshot-blob dist/daemon.blob <entry>` when that
 * blob was made by the Node it is about to run (StartDaemon.ts), else `node <entry>` as before.
 *
 * Started that way, a daemon finds its modules evaluated: Node's start and the load of 540 KB of
 * modules take about 25 ms less. What a snapshot cannot hold (sockets, files, children, the
 * environment) is only made after it is deserialized, by runDaemon, exactly as on the plain start.
 *
 * Nothing runs while the snapshot is built but the modules' own evaluation. Three things tried
 * beyond that each broke the deserialized daemon on this Node (24.21), and the tests caught them:
 * - running Effect programs with timers and yields: uploads to an S3 server that went away then
 *   sometimes never settled (3 runs of that test in 5);
 * - running the request path's pure functions (argument parsing, request decoding, Effect.runSync)
 *   so that V8 kept their code: the daemon sometimes died on its first request, leaving no message
 *   (2 times in 36 starts under load, 0 in 40 without the warm-up, 0 in 40 plain starts);
 * - node:crypto in the snapshot: a worker thread that loads it (the Rust family hashes the sysroot
 *   in some) fails a Node assertion. The snapshot's bundle loads it on first use (scripts/build.mjs).
 */
import * as v8 from "node:v8"
import { nodeIsRecentEnough } from "../client/Daemon.ts"
import { runDaemon } from "./DaemonMain.ts"

if (v8.startupSnapshot.isBuildingSnapshot()) {
  // No blob for a Node the daemon can't run on: a client would start it from the blob, unchecked.
  if (!nodeIsRecentEnough(process.versions.node)) throw new Error(`Node ${process.version} is too old for the daemon (Node ≥ 22.19)`)
  // node:crypto loads on first use (scripts/build.mjs): in the snapshot, it would crash every worker
  // thread that loads it (the daemon hashes Rust's sysroot in some). No blob rather than that one.
  v8.startupSnapshot.addSerializeCallback(() => {
    // Node's own list of the built-in modules it loaded.
    const loaded = (process as unknown as { readonly moduleLoadList: ReadonlyArray<string> }).moduleLoadList.filter((m) => /\bcrypto\b/.test(m))
    if (loaded.length > 0) throw new Error(`node:crypto was loaded while the snapshot was built (${loaded.join(", ")})`)
  })
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    runDaemon(process.env as Record<string, string>).then(
      (code) => void (process.exitCode = code),
      (e) => {
        process.stderr.write(`sccache-ts: error: daemon: ${e instanceof Error ? e.message : String(e)}\n`)
        process.exitCode = 2
      }
    )
  })
}
