/**
 * The daemon as a V8 startup snapshot, for the first compile of a build (no daemon yet, as on every
 * fresh CI machine). The build runs this file under `node --build-snapshot` and writes
 * dist/daemon.blob; the client starts `node --snapshot-blob dist/daemon.blob <entry>` when that
 * blob was made by the Node it is about to run (StartDaemon.ts), else `node <entry>` as before.
 *
 * Started that way, a daemon finds its modules evaluated and the functions of a compile's path
 * compiled: a warm-up below runs them while the snapshot is built, and V8 keeps their code. What
 * a snapshot cannot hold (sockets, files, children, the environment) is only made after it is
 * deserialized, by runDaemon, exactly as on the plain start.
 *
 * The warm-up does no asynchronous work of Effect's (no sleep, timeout, yield or concurrency):
 * with some, a deserialized daemon sometimes stalled, its uploads to an S3 server that went away
 * never settling (3 runs in 5 of that test; 0 in 9 without). Effect.runSync refuses anything async.
 */
import { Effect } from "effect"
import * as v8 from "node:v8"
import { decodeEntry, encodeEntry } from "../cache/CacheEntry.ts"
import { decodeManifest, encodeManifest } from "../cache/Manifest.ts"
import { parseDepFile } from "../compiler/DepFile.ts"
import { parseGccArgs } from "../compiler/GccArgs.ts"
import { parseDepInfo, parseRustArgs } from "../compiler/RustArgs.ts"
import { encodeFrame, FrameReader } from "../protocol/Framing.ts"
import { decodeRequest } from "../protocol/RequestSchema.ts"
import { runDaemon } from "./DaemonMain.ts"

/**
 * Pure work a compile's request does first, on made-up inputs: it touches no file and no process.
 * Awaits only promises that settle at once (entries this small are compressed and hashed in line).
 */
const warmUp = async () => {
  const request = {
    type: "compile",
    build: "warm-up",
    exe: "/usr/bin/gcc",
    args: ["-O2", "-Wall", "-I", "include", "-DNDEBUG", "-c", "a.c", "-o", "a.o", "-MD", "-MF", "a.d"],
    cwd: "/",
    env: { PATH: "/usr/bin" },
    umask: 0o22,
    pid: 1
  }
  for (let i = 0; i < 3; i++) {
    const frames = new FrameReader().push(encodeFrame(request))
    if (Array.isArray(frames)) decodeRequest(frames[0])
    parseGccArgs(request.args, "gcc", request.env)
    parseGccArgs(["-g", "-std=c++17", "-c", "b.cpp", "-o", "b.o"], "clang", {})
    parseDepFile("a.o: a.c include/a.h \\\n /usr/include/stdio.h\n")
    parseRustArgs(["--crate-name", "a", "--edition=2021", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata,link", "-C", "opt-level=3", "--out-dir", "target"])
    parseDepInfo("target/a.d: src/lib.rs\n\nsrc/lib.rs:\n")
    const entry = await encodeEntry("warm-up", { files: [{ role: "obj", mode: 0o644, data: new Uint8Array(4096) }], stdout: new Uint8Array(0), stderr: new Uint8Array(0), exitCode: 0 })
    if (entry instanceof Uint8Array) await decodeEntry("warm-up", entry)
    const manifest = await encodeManifest("warm-up", { candidates: [{ result: "r", includes: [["a.h", "d"]], absent: [["/usr/include", ["a.h"]]] }] })
    if (manifest instanceof Uint8Array) await decodeManifest("warm-up", manifest)
    // The runtime's own paths, synchronously (see above).
    const step = Effect.fn("warm-up")(function*(n: number) {
      return n + 1
    })
    Effect.runSync(Effect.gen(function*() {
      let n = 0
      for (let j = 0; j < 4; j++) n = yield* step(n).pipe(Effect.catchCause(() => Effect.succeed(0)))
      yield* Effect.forEach([1, 2, 3], (x) => Effect.succeed(x))
      yield* Effect.fail("warm-up").pipe(Effect.result)
      return n
    }))
  }
}

if (v8.startupSnapshot.isBuildingSnapshot()) {
  // The build prints this and still writes the blob: a cold function only costs its compile.
  warmUp().catch((e) => console.error(`warm-up failed: ${e instanceof Error ? e.stack : String(e)}`))
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
