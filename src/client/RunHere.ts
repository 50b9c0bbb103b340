import { jobserverAuth } from "../jobserver/JobserverAuth.ts"
import { dieOf } from "./Exchange.ts"
import { spawnInherit, statOf, type Stdio } from "./Runtime.ts"

/**
 * The terminal, and the jobserver descriptors make or cargo gave us, under the same numbers: the
 * runtimes mark inherited descriptors close-on-exec, and rustc warns about a jobserver it can't open.
 */
const stdio = async (): Promise<Stdio> => {
  const auth = jobserverAuth(process.env)
  const fds: Stdio = ["inherit", "inherit", "inherit"]
  if (auth?._tag !== "Fds") return fds
  // Loaded only here: /proc is read with node:fs, which a compile without a jobserver never loads.
  // Without it (a damaged install) the compile still runs, only without make's jobserver.
  const proc = await import("../jobserver/JobserverProc.ts").catch(() => undefined)
  if (proc?.reachableJobserver(auth, process.pid) === undefined) return fds
  for (const fd of [auth.read, auth.write]) {
    while (fds.length <= fd) fds.push("ignore")
    fds[fd] = fd
  }
  return fds
}

const firstExisting = async (paths: ReadonlyArray<string>): Promise<string | undefined> => {
  for (const p of paths) if (!("code" in (await statOf(p)))) return p
  return undefined
}

/**
 * bash rebuilds the compiler's argv and environment from this process's own /proc files, byte for
 * byte (Node and Bun spawn only strings): the last $2 arguments, every variable, and the working
 * directory it inherits.
 */
const RAW_EXEC = `mapfile -d '' -t a < /proc/$1/cmdline && mapfile -d '' -t e < /proc/$1/environ && exec "$3" -i "\${e[@]}" "$4" "\${a[@]:\${#a[@]}-$2}"`

/**
 * Runs the real compiler on the client's own terminal, and gives its exit status. No Effect: the
 * hot path runs it when the daemon answers that a compile is not for the cache (cargo's probes,
 * binaries, links) or can't help. `raw`: argv, environment or directory are not UTF-8, so the
 * compiler gets them from /proc as bytes. A compiler killed by a signal kills us the same way.
 */
export const runHere = async (exe: string, args: ReadonlyArray<string>, raw = false): Promise<number> => {
  const bash = raw ? await firstExisting(["/bin/bash", "/usr/bin/bash"]) : undefined
  const envExe = raw ? await firstExisting(["/usr/bin/env", "/bin/env"]) : undefined
  const ran = bash !== undefined && envExe !== undefined
    ? await spawnInherit(bash, ["--norc", "--noprofile", "-c", RAW_EXEC, "sccache-ts", String(process.pid), String(args.length), envExe, exe], await stdio(), {})
    : await spawnInherit(exe, args, await stdio())
  if (ran._tag === "NotStarted") {
    process.stderr.write(`sccache-ts: error: cannot run ${exe}: ${ran.message}\n`)
    return ran.code === "ENOENT" ? 127 : 126
  }
  return ran.signal === undefined ? ran.code : dieOf(ran.signal, ran.code)
}
