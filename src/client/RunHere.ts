import { spawn, type StdioOptions } from "node:child_process"
import { jobserverAuth, reachableJobserver } from "../jobserver/JobserverAuth.ts"

/**
 * The terminal, and the jobserver descriptors make or cargo gave us, under the same numbers: Node
 * marks inherited descriptors close-on-exec, and rustc warns about a jobserver it can't open.
 */
const stdio = (): StdioOptions => {
  const auth = jobserverAuth(process.env)
  if (auth?._tag !== "Fds" || reachableJobserver(auth, process.pid) === undefined) return "inherit"
  const fds: Array<"inherit" | "ignore" | number> = ["inherit", "inherit", "inherit"]
  for (const fd of [auth.read, auth.write]) {
    while (fds.length <= fd) fds.push("ignore")
    fds[fd] = fd
  }
  return fds
}

/**
 * Runs the real compiler on the client's own terminal, and gives its exit status. No Effect: the
 * hot path runs it when the daemon answers that a compile is not for the cache (cargo's probes,
 * binaries, links). Output, colours and exit status are the compiler's own.
 */
export const runHere = (exe: string, args: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve) => {
    const child = spawn(exe, args, { stdio: stdio() })
    child.on("error", (e: NodeJS.ErrnoException) => {
      process.stderr.write(`sccache-ts: error: cannot run ${exe}: ${e.message}\n`)
      resolve(e.code === "ENOENT" ? 127 : 126)
    })
    child.on("close", (code, signal) => {
      // Die of the same signal, so the caller sees what a direct run would have shown.
      if (signal !== null) {
        process.removeAllListeners(signal)
        process.kill(process.pid, signal)
      }
      resolve(code ?? 1)
    })
  })
