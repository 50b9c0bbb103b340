/**
 * Real redis-server and memcached processes for tests, on 127.0.0.1 only, plus a TCP server that
 * accepts and never answers. Children run under `setpriv --pdeathsig KILL`, so a killed test run
 * never leaves servers behind.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import net from "node:net"

export interface ServerProcess {
  readonly port: number
  /** SIGTERM, then waits for the exit. */
  readonly stop: () => Promise<void>
  /** SIGKILL, as a crash: no goodbye to connected clients. */
  readonly kill: () => Promise<void>
}

const which = (bin: string): string | undefined => {
  try {
    return execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

/** Missing servers fail the run loudly: skipping would make a green run that tested nothing. */
export const requireBinary = (bin: string): string => {
  const found = which(bin)
  if (found === undefined) {
    throw new Error(`${bin} is not installed: the storage tests need it. .ci/run installs it (apt-get install redis-server memcached).`)
  }
  return found
}

const isRoot = process.getuid?.() === 0

/** As root, setpriv drops to nobody (memcached refuses to run as root) and replaces `-u`. */
const wrap = (bin: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  which("setpriv") === undefined
    ? [bin, [...args, ...(isRoot && bin.endsWith("memcached") ? ["-u", "nobody"] : [])]]
    : ["setpriv", ["--pdeathsig", "KILL", ...(isRoot ? ["--reuid=nobody", "--regid=nogroup", "--clear-groups"] : []), "--", bin, ...args]]

/** A port that was free a moment ago; callers retry if another process wins it. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Sends `probe` and resolves with the first reply, or undefined if there is none yet. */
const ask = (port: number, probe: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const done = (answer: string | undefined) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(500, () => done(undefined))
    socket.once("error", () => done(undefined))
    socket.once("connect", () => socket.write(probe))
    socket.once("data", (d) => done(d.toString()))
  })

/** A backstop for runs that end without stopping their servers (a failed setup, a crash). */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()))

const launch = async (
  bin: string,
  args: (port: number) => ReadonlyArray<string>,
  ready: (port: number) => Promise<boolean>,
  fixedPort: number | undefined
): Promise<ServerProcess> => {
  let lastError = ""
  // A free port can be taken between the probe and the server's bind: then try another.
  for (let attempt = 0; attempt < (fixedPort === undefined ? 3 : 1); attempt++) {
    const port = fixedPort ?? await freePort()
    const [cmd, argv] = wrap(bin, args(port))
    const child = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (d) => (stderr += d))
    running.add(child)
    const gone = exited(child)
    let alive = true
    void gone.then(() => {
      alive = false
      running.delete(child)
    })
    const deadline = Date.now() + 5000
    while (alive && Date.now() < deadline) {
      if (await ready(port)) {
        const stopWith = (signal: NodeJS.Signals) => async () => {
          child.kill(signal)
          await gone
        }
        return { port, stop: stopWith("SIGTERM"), kill: stopWith("SIGKILL") }
      }
      await sleep(15)
    }
    child.kill("SIGKILL")
    await gone
    lastError = `${bin} on port ${port} exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim()}`
  }
  throw new Error(`could not start ${lastError}`)
}

export const startRedis = (opts: { readonly port?: number; readonly password?: string } = {}) =>
  launch(
    requireBinary("redis-server"),
    (port) => [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--daemonize", "no", "--loglevel", "warning", "--dir", "/tmp",
      ...(opts.password === undefined ? [] : ["--requirepass", opts.password])
    ],
    async (port) => /^(\+PONG|-NOAUTH)/.test((await ask(port, "PING\r\n")) ?? ""),
    opts.port
  )

export const startMemcached = (opts: { readonly port?: number; readonly maxItemSize?: string } = {}) =>
  launch(
    requireBinary("memcached"),
    (port) => ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-I", opts.maxItemSize ?? "8m"],
    async (port) => ((await ask(port, "version\r\n")) ?? "").startsWith("VERSION"),
    opts.port
  )

/** Accepts connections and never answers, like a wedged server or a black-holing proxy. */
export const startHangingServer = async (): Promise<{ readonly port: number; readonly close: () => Promise<void> }> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => undefined)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
