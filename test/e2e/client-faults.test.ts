/**
 * The client against a hostile or broken world: a daemon that goes quiet, one that can't be spawned
 * or dies at once, socket paths that are files, directories or under /proc, another user's socket
 * directory, a squatted lock, and bytes that are not UTF-8. Every case compares with plain gcc.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, makeSandbox, run, runAsync, type Sandbox } from "../support/harness.ts"
import { fakeDaemon, frame, packageCopy } from "../support/client-kit.ts"
import { socketHash } from "../../src/config/SocketFiles.ts"

const sandboxes: Array<Sandbox> = []
const sandbox = (env: NodeJS.ProcessEnv = {}) => {
  const sb = makeSandbox(env)
  sandboxes.push(sb)
  sb.write("ok.c", "int answer(void) { return 42; }\n")
  return sb
}
afterAll(() => {
  for (const sb of sandboxes) sb.stop()
})

const plainObject = (sb: Sandbox, file = "ok.c"): Buffer => {
  expect(run("gcc", ["-c", file, "-o", "plain.o"], { cwd: sb.dir, env: sb.env }).code).toBe(0)
  return fs.readFileSync(path.join(sb.dir, "plain.o"))
}

const log = (sb: Sandbox): string => {
  const p = sb.env["SCCACHE_ERROR_LOG"]!
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : ""
}

/** A private 0700 directory for a fake daemon's socket (the client trusts no other kind). */
const privateSocket = (sb: Sandbox): string => {
  fs.mkdirSync(path.dirname(sb.socket), { recursive: true, mode: 0o700 })
  return sb.socket
}

const daemonsOf = (socket: string): Array<number> =>
  fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`SCCACHE_SERVER_UDS=${socket}`) &&
        fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes("SCCACHE_START_SERVER=1")
    } catch {
      return false
    }
  })

describe("bounded waits", () => {
  it("keeps waiting while the daemon sends keep-alives, and takes its answer", async () => {
    const sb = sandbox()
    let timer: NodeJS.Timeout | undefined
    const fake = await fakeDaemon(privateSocket(sb), (_req, conn) => {
      // 12 s of keep-alives (beyond the 10 s silence bound), then an answer only a daemon would give.
      let beats = 0
      timer = setInterval(() => {
        if (++beats <= 12) return void conn.write(frame({ type: "busy" }))
        clearInterval(timer)
        conn.end(frame({ type: "compiled", exitCode: 3, stdout: Buffer.from("from the daemon\n").toString("base64"), stderr: "" }))
      }, 1000)
    })
    const r = await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env })
    clearInterval(timer)
    await fake.close()
    expect({ code: r.code, stdout: r.stdout.toString() }).toEqual({ code: 3, stdout: "from the daemon\n" })
    expect(fake.requests).toHaveLength(1)
  }, 120_000)

  it("gives up on a daemon that accepts and never answers: compiles locally once, warns only in the log", async () => {
    const sb = sandbox()
    const fake = await fakeDaemon(privateSocket(sb), () => {})
    const r = await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env })
    await fake.close()
    expect({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }).toEqual({ code: 0, stdout: "", stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    expect(fake.connections()).toBe(1)
    expect(log(sb)).toMatch(/WARN sccache-ts client: compiling .*gcc here, without the cache: the daemon sent nothing for 10 s/)
  }, 120_000)

  it("finishes make -j2 while the daemon is stopped (SIGSTOP), every object as gcc makes it", async () => {
    const sb = sandbox()
    const files = ["a", "b", "c", "d"]
    for (const f of files) sb.write(`${f}.c`, `int ${f}(void) { return ${f.charCodeAt(0)}; }\n`)
    sb.write("Makefile", `all: ${files.map((f) => `${f}.o`).join(" ")}\n%.o: %.c\n\t${BIN} gcc -c $< -o $@\n`)
    expect(sb.sccache(["--start-server"]).code).toBe(0)
    const [pid] = daemonsOf(sb.socket)
    process.kill(pid!, "SIGSTOP")
    try {
      const r = await runAsync("make", ["-j2"], { cwd: sb.dir, env: sb.env })
      expect(r.code).toBe(0)
    } finally {
      process.kill(pid!, "SIGCONT")
    }
    for (const f of files) {
      run("gcc", ["-c", `${f}.c`, "-o", `${f}.ref`], { cwd: sb.dir, env: sb.env })
      expect(fs.readFileSync(path.join(sb.dir, `${f}.o`))).toEqual(fs.readFileSync(path.join(sb.dir, `${f}.ref`)))
    }
    expect(log(sb).match(/the daemon sent nothing for 10 s/g)).toHaveLength(files.length)
  }, 300_000)
})

describe("what the client tells the daemon", () => {
  it("whether its stderr is a terminal (stderrTty), as it is under script(1) and not through a pipe", async () => {
    const sb = sandbox()
    const fake = await fakeDaemon(privateSocket(sb), (_req, conn) => conn.end(frame({ type: "compiled", exitCode: 0, stdout: "", stderr: "" })))
    const piped = await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env })
    const onTty = await runAsync("script", ["-qec", `${BIN} gcc -c ok.c -o a.o`, "/dev/null"], { cwd: sb.dir, env: sb.env })
    await fake.close()
    expect([piped.code, onTty.code]).toEqual([0, 0])
    expect(fake.requests.map((r) => (r as { stderrTty?: boolean }).stderrTty)).toEqual([false, true])
    expect(fake.requests.map((r) => (r as { lossy?: boolean }).lossy)).toEqual([undefined, undefined])
  })
})

describe("a daemon that can't start", () => {
  it("compiles locally when the daemon's spawn itself fails", () => {
    const sb = sandbox()
    // The package's Node exists but can't be executed (its interpreter is missing): spawn fails.
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: true, node: { text: "#!/nonexistent/interpreter\n" } })
    const r = run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, PATH: "/usr/bin:/bin" } })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    expect(log(sb)).toMatch(/the daemon could not be spawned/)
  })

  it("compiles locally at once when the daemon it started dies of a signal", () => {
    const sb = sandbox()
    const bin = packageCopy(path.join(path.dirname(sb.dir), "pkg"), { bun: true, node: { text: "#!/bin/sh\nkill -KILL $$\n" } })
    const r = run(bin, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: sb.env })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    // It saw the death, rather than waiting out the start timeout.
    expect(log(sb)).toMatch(/the daemon exited \(SIGKILL\)/)
    expect(log(sb)).not.toMatch(/did not start in time/)
  })

  it("compiles locally when SCCACHE_SERVER_UDS is under /proc, where no directory can be made", () => {
    const sb = sandbox()
    const r = run(BIN, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, SCCACHE_SERVER_UDS: "/proc/sccache-ts-test/run/d.sock" } })
    expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
    expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    expect(log(sb)).toMatch(/cannot be created/)
  })

  it("leaves a regular file named by SCCACHE_SERVER_UDS alone, and starts no daemon on a directory", () => {
    const sb = sandbox()
    const file = path.join(sb.dir, "precious.txt")
    fs.writeFileSync(file, "keep me\n")
    const dir = path.join(sb.dir, "adir")
    fs.mkdirSync(dir, { mode: 0o700 })
    for (const [uds, out] of [[file, "a.o"], [dir, "b.o"]] as const) {
      const r = run(BIN, ["gcc", "-c", "ok.c", "-o", out], { cwd: sb.dir, env: { ...sb.env, SCCACHE_SERVER_UDS: uds } })
      expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
      expect(fs.readFileSync(path.join(sb.dir, out))).toEqual(plainObject(sb))
      expect(daemonsOf(uds)).toEqual([])
    }
    // A daemon started by hand on that path refuses it too, and deletes nothing.
    const daemon = run(BIN, [], { cwd: sb.dir, env: { ...sb.env, SCCACHE_START_SERVER: "1", SCCACHE_SERVER_UDS: file } })
    expect({ code: daemon.code, stderr: daemon.stderr.toString() }).toEqual({ code: 2, stderr: expect.stringMatching(/precious.txt is not a socket/) })
    expect(fs.readFileSync(file, "utf8")).toBe("keep me\n")
    expect(log(sb)).toMatch(/precious.txt is not a socket/)
  })
})

describe("security", () => {
  /** A listener in `dir` that would answer "compiled" with nothing: a hijacker. */
  const hijacker = async (dir: string) => {
    const socket = path.join(dir, "d.sock")
    const fake = await fakeDaemon(socket, (_req, conn) => conn.end(frame({ type: "compiled", exitCode: 0, stdout: "", stderr: "" })))
    return { socket, fake }
  }

  for (const [what, prepare] of [
    ["a socket directory others can write (0777)", (dir: string) => fs.chmodSync(dir, 0o777)],
    ["a socket directory owned by another user", (dir: string) => fs.chownSync(dir, 65534, 65534)],
    ["a socket directory that is a symlink", (dir: string) => {
      fs.renameSync(dir, `${dir}.real`)
      fs.symlinkSync(`${dir}.real`, dir)
    }]
  ] as const) {
    it(`sends nothing to a listener in ${what}, and compiles locally`, async () => {
      // As root the test can make the other user's directory; the client must refuse all three.
      expect(process.getuid?.()).toBe(0)
      const sb = sandbox()
      const dir = path.join(path.dirname(sb.dir), "shared")
      fs.mkdirSync(dir, { mode: 0o700 })
      const h = await hijacker(dir)
      prepare(dir)
      const r = await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", "a.o"], { cwd: sb.dir, env: { ...sb.env, SCCACHE_SERVER_UDS: h.socket } })
      await h.fake.close()
      expect(h.fake.connections()).toBe(0)
      expect({ code: r.code, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" })
      expect(fs.readFileSync(path.join(sb.dir, "a.o"))).toEqual(plainObject(sb))
    })
  }

  it("takes its locks under names nobody else can know: a squatter on the old names changes nothing", async () => {
    const sb = sandbox()
    // The names the lock used to have (uid, role, hash of the socket path): anyone could bind them.
    const squatters = await Promise.all(["daemon", "starter"].map((role) =>
      new Promise<net.Server>((resolve) => {
        const s = net.createServer((c) => c.destroy())
        s.listen(`\0sccache-ts-${process.getuid?.()}-${role}-${socketHash(sb.socket)}`, () => resolve(s))
      })
    ))
    try {
      for (const o of ["a.o", "b.o"]) expect((await runAsync(BIN, ["gcc", "-c", "ok.c", "-o", o], { cwd: sb.dir, env: sb.env })).code).toBe(0)
      expect(sb.stats().stats.cache_hits.counts["C/C++"]).toBe(1)
    } finally {
      for (const s of squatters) s.close()
    }
    const secret = path.join(path.dirname(sb.socket), "lock.secret")
    expect(fs.statSync(secret).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(sb.socket)).mode & 0o777).toBe(0o700)
  })
})

describe("bytes that are not UTF-8", () => {
  /** A name with byte 0xE9 in it, as a string that spawn passes through as that raw byte. */
  const raw = (prefix: string, suffix = "") => Buffer.concat([Buffer.from(prefix), Buffer.from([0xe9]), Buffer.from(suffix)])

  /** Runs `cmd` through sh with raw bytes spliced in, so nothing is re-encoded on the way. */
  const sh = (sb: Sandbox, script: Buffer, env: NodeJS.ProcessEnv = {}) => {
    const file = path.join(sb.dir, "script.sh")
    fs.writeFileSync(file, script)
    const r = spawnSync("sh", [file], { cwd: sb.dir, env: { ...sb.env, ...env } })
    return { code: r.status, stdout: r.stdout.toString("hex"), stderr: r.stderr.toString("hex") }
  }

  const cases: ReadonlyArray<readonly [string, (cmd: string, out: string) => Buffer, NodeJS.ProcessEnv?]> = [
    ["a source file name", (cmd, out) => Buffer.concat([Buffer.from(`${cmd} -c `), raw("src"), Buffer.from(`.c -o ${out}\n`)])],
    ["an -I directory", (cmd, out) => Buffer.concat([Buffer.from(`${cmd} -c inc.c -I`), raw("hdr"), Buffer.from(` -o ${out}\n`)])],
    ["a -D value", (cmd, out) => Buffer.concat([Buffer.from(`${cmd} -c def.c '-DNAME="x`), raw(""), Buffer.from(`y"' -o ${out}\n`)])],
    ["the -o name", (cmd, out) => Buffer.concat([Buffer.from(`${cmd} -c ok.c -o `), raw(out)])],
    ["CPATH", (cmd, out) => Buffer.concat([Buffer.from("CPATH='"), raw("hdr"), Buffer.from(`' ${cmd} -c inc.c -o ${out}\n`)])]
  ]

  for (const [what, script] of cases) {
    for (const disable of ["0", "1"]) {
      it(`${what}${disable === "1" ? ", with SCCACHE_DISABLE=1" : ""}: the same object and exit code as plain gcc`, () => {
        const sb = sandbox({ SCCACHE_DISABLE: disable })
        const at = (...parts: Array<Buffer | string>) => Buffer.concat([Buffer.from(`${sb.dir}/`), ...parts.map((p) => Buffer.from(p))])
        fs.writeFileSync(at(raw("src"), ".c"), "int s(void) { return 1; }\n")
        fs.mkdirSync(at(raw("hdr")))
        fs.writeFileSync(at(raw("hdr"), "/h.h"), "#define H 7\n")
        sb.write("inc.c", "#include <h.h>\nint i(void) { return H; }\n")
        sb.write("def.c", "const char *d = NAME;\n")
        const viaUs = sh(sb, script(BIN + " gcc", "ours.o"))
        const plain = sh(sb, script("gcc", "plain.o"))
        expect(viaUs).toEqual(plain)
        expect(plain.code).toBe(0)
        const names = fs.readdirSync(sb.dir, { encoding: "buffer" })
        const ours = names.find((n) => n.subarray(0, 6).toString() === "ours.o")!
        const theirs = names.find((n) => n.subarray(0, 7).toString() === "plain.o")!
        // The -o case makes "ours.o\xe9": the exact bytes, not a mangled name.
        expect(ours.subarray(6)).toEqual(theirs.subarray(7))
        expect(fs.readFileSync(at(ours))).toEqual(fs.readFileSync(at(theirs)))
      })
    }
  }
})
