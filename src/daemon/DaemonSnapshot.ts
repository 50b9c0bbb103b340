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
 * The warm-up is synchronous, Effect's part too (no sleep, timeout, yield or concurrency): with
 * some, a deserialized daemon sometimes stalled, its uploads to an S3 server that went away never
 * settling (3 runs in 5 of that test; 0 in 9 without). Effect.runSync refuses anything async.
 */
import { Effect } from "effect"
import * as v8 from "node:v8"
import { parseDepFile } from "../compiler/DepFile.ts"
import { parseGccArgs } from "../compiler/GccArgs.ts"
import { parseDepInfo, parseRustArgs } from "../compiler/RustArgs.ts"
import { nodeIsRecentEnough } from "../client/Daemon.ts"
import { encodeFrame, FrameReader } from "../protocol/Framing.ts"
import { decodeRequest } from "../protocol/RequestSchema.ts"
import { runDaemon } from "./DaemonMain.ts"

/** Pure work a compile's request does first, on made-up inputs: it touches no file and no process. */
const warmUp = () => {
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
  const step = Effect.fn("warm-up")(function*(n: number) {
    return n + 1
  })
  for (let i = 0; i < 3; i++) {
    const frames = new FrameReader().push(encodeFrame(request))
    if (Array.isArray(frames)) decodeRequest(frames[0])
    parseGccArgs(request.args, "gcc", request.env)
    parseGccArgs(["-g", "-std=c++17", "-c", "b.cpp", "-o", "b.o"], "clang", {})
    parseDepFile("a.o: a.c include/a.h \\\n /usr/include/stdio.h\n")
    parseRustArgs(["--crate-name", "a", "--edition=2021", "src/lib.rs", "--crate-type", "lib", "--emit=dep-info,metadata,link", "-C", "opt-level=3", "--out-dir", "target"])
    parseDepInfo("target/a.d: src/lib.rs\n\nsrc/lib.rs:\n")
    // The runtime's own paths, synchronously (see above).
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
  // No blob for a Node the daemon can't run on: a client would start it from the blob, unchecked.
  if (!nodeIsRecentEnough(process.versions.node)) throw new Error(`Node ${process.version} is too old for the daemon (Node ≥ 22.19)`)
  warmUp()
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
