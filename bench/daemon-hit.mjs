// Where the daemon's time goes on a direct-mode hit of one small C file (not a timed test).
//
// Starts a private daemon, compiles the file once (a miss), then sends the same compile request N
// times over the socket from this one process (no client start in the figures): the median round
// trip, the daemon's CPU time per hit and its own timing (--show-stats). Then the same again with a
// daemon at SCCACHE_LOG=trace, which logs every span's duration (each `Effect.fn` of the daemon):
// the median of each span per hit. What the spans don't cover (decoding the request, the jobserver,
// encoding the reply, the socket) is the round trip minus the outermost span.
//
//   node bench/daemon-hit.mjs [--hits N] [--json]
//
// bench/bench.mjs runs it for its "daemon hit" section, with --json.

import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const BIN = path.join(ROOT, "bin", "sccache-ts")

const SOURCE = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "util.h"

double weight(const struct record *r) { return sqrt(fabs(r->value)) * SCALE; }

int process(struct record *items, size_t len, const char *prefix)
{
    int count = 0;
    for (size_t i = 0; i < len; i++)
        if (strncmp(items[i].name, prefix, strlen(prefix)) == 0) { items[i].value = weight(&items[i]); count++; }
    return count;
}

void report(const struct record *r, FILE *out) { fprintf(out, "%s=%.3f\\n", r->name, r->value); }
`
const HEADER = `#pragma once
#define SCALE 1.5
struct record { char name[32]; double value; };
`

/** The build id the daemon expects in a request: the one baked into the client's bundle. */
function buildId() {
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version
  const chunks = path.join(ROOT, "dist", "chunks")
  const clientChunks = fs.existsSync(chunks) ? fs.readdirSync(chunks).filter((f) => f.startsWith("client-")).map((f) => path.join(chunks, f)) : []
  for (const file of [path.join(ROOT, "dist", "client.mjs"), ...clientChunks]) {
    const m = fs.existsSync(file) ? /\+([0-9a-f]{12})`/.exec(fs.readFileSync(file, "utf8")) : null
    if (m !== null) return `${version}+${m[1]}`
  }
  throw new Error("no build id found in the client (dist/client.mjs and its chunks): rebuild with npm run build")
}

function frame(value) {
  const body = Buffer.from(JSON.stringify(value))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}

/** One request, one reply, as the client sends it; resolves with the reply and the ms it took. */
function exchange(socket, bytes) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const chunks = []
    const c = net.createConnection(socket, () => c.write(bytes))
    c.on("data", (b) => chunks.push(b))
    c.on("error", reject)
    c.on("close", () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      // The daemon sends {type:"busy"} every second while it works: the reply is the last frame.
      let all = Buffer.concat(chunks)
      let reply
      while (all.length >= 4 && all.length >= 4 + all.readUInt32BE(0)) {
        reply = JSON.parse(all.subarray(4, 4 + all.readUInt32BE(0)).toString())
        all = all.subarray(4 + all.readUInt32BE(0))
      }
      resolve({ ms, reply })
    })
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** The daemon serving `socket`: the process started with it as its socket. */
/** The pid of the daemon serving `socket`, found by its environment. */
export function daemonOf(socket) {
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const vars = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
      // Not a child it runs with its own environment (mkfifo, a compiler probe): the daemon runs our bundle.
      const daemon = vars.includes("SCCACHE_START_SERVER=1") && vars.includes(`SCCACHE_SERVER_UDS=${socket}`)
      if (daemon && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("client.mjs")) return pid
    } catch { /* gone, or not ours */ }
  }
  throw new Error(`no daemon found for ${socket}`)
}

/** A process's CPU time so far (user + system), from /proc, in ms. */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // clock ticks: 100 a second on Linux
}

/** `span=NAME parent=P ms=X` lines of the daemon's log, from byte `from` on. */
function spans(log, from) {
  const text = fs.readFileSync(log, "utf8").slice(from)
  const out = []
  for (const m of text.matchAll(/^level=TRACE span=(\S+)(?: parent=(\S+))? ms=([\d.]+)$/gm)) out.push({ name: m[1], parent: m[2], ms: Number(m[3]) })
  return out
}

/**
 * A daemon at log level `level` serving `hits` identical hits; what `measure` makes of them (it
 * gets the daemon's pid and log, and sends the hits with `send`).
 */
async function withHits(level, hits, measure) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sct-hit-"))
  // The inherited environment, as a client sends it (its size is part of every request).
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SCCACHE_|MAKEFLAGS$|MFLAGS$|CARGO_MAKEFLAGS$)/.test(k))),
    LC_ALL: "C",
    SCCACHE_DIR: path.join(tmp, "cache"),
    SCCACHE_SERVER_UDS: path.join(tmp, "d.sock"),
    SCCACHE_IDLE_TIMEOUT: "60",
    SCCACHE_LOG: level,
    SCCACHE_ERROR_LOG: path.join(tmp, "daemon.log")
  }
  const dir = path.join(tmp, "w")
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "one.c"), SOURCE)
  fs.writeFileSync(path.join(dir, "util.h"), HEADER)
  const args = ["-O2", "-c", "one.c", "-o", "one.o"]
  const gcc = spawnSync("sh", ["-c", "command -v gcc"], { encoding: "utf8" }).stdout.trim()
  try {
    const miss = spawnSync(BIN, [gcc, ...args], { cwd: dir, env })
    if (miss.status !== 0) throw new Error(`the miss failed: ${miss.stderr}`)
    // The headers' digests are kept once they are a second old, and the entry is written after the reply.
    spawnSync("sleep", ["1.2"])
    const request = frame({ type: "compile", build: buildId(), exe: gcc, args, cwd: dir, env, umask: 0o022, pid: process.pid })
    for (let i = 0; i < 20; i++) await exchange(env.SCCACHE_SERVER_UDS, request) // warm the JIT
    spawnSync(BIN, ["--zero-stats"], { env })
    const send = async () => {
      const trips = []
      for (let i = 0; i < hits; i++) {
        const { ms, reply } = await exchange(env.SCCACHE_SERVER_UDS, request)
        if (reply?.type !== "compiled") throw new Error(`not a hit: ${JSON.stringify(reply)}`)
        trips.push(ms)
      }
      return trips
    }
    const result = await measure({ pid: daemonOf(env.SCCACHE_SERVER_UDS), log: env.SCCACHE_ERROR_LOG, send })
    const stats = JSON.parse(spawnSync(BIN, ["--show-stats", "--stats-format", "json"], { env, encoding: "utf8" }).stdout).stats
    return { ...result, stats, requestBytes: request.length }
  } finally {
    spawnSync(BIN, ["--stop-server"], { env })
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

export async function daemonHit({ hits = 200 } = {}) {
  // At the default log level: the round trip, the daemon's CPU time and its own timing.
  const plain = await withHits("warn", hits, async ({ pid, send }) => {
    const cpu0 = cpuMs(pid)
    const trips = await send()
    return { trips, cpu: (cpuMs(pid) - cpu0) / hits }
  })
  // At trace level (which costs time of its own): the spans, per hit. Each hit's spans end with
  // its outermost one; a span that runs twice in a hit counts twice.
  const traced = await withHits("trace", hits, async ({ log, send }) => {
    const from = fs.statSync(log).size
    await send()
    const perHit = []
    let current = new Map()
    for (const s of spans(log, from)) {
      const key = s.parent === undefined ? s.name : `${s.parent} > ${s.name}`
      current.set(key, (current.get(key) ?? 0) + s.ms)
      if (s.parent === undefined) {
        perHit.push(current)
        current = new Map()
      }
    }
    return { perHit }
  })
  const names = new Set(traced.perHit.flatMap((h) => [...h.keys()]))
  const directHits = Object.values(plain.stats.direct_hits.counts).reduce((a, b) => a + b, 0)
  // sccache's JSON gives totals ({secs, nanos}); each hit restored its outputs once.
  const avg = (t) => (directHits === 0 ? undefined : (t.secs * 1e3 + t.nanos / 1e6) / directHits)
  return {
    hits,
    directHits,
    requestBytes: plain.requestBytes,
    roundTripMs: median(plain.trips),
    // The daemon's CPU time (user + system) per hit: steadier than wall time on a busy machine.
    cpuMs: plain.cpu,
    // The daemon's own timing of a hit (--show-stats' "Average cache read hit"), and of its output writes.
    hitMs: avg(plain.stats.cache_read_hit_duration),
    outputWriteMs: avg(plain.stats.output_write_duration),
    spansMs: Object.fromEntries([...names].map((k) => [k, median(traced.perHit.map((h) => h.get(k) ?? 0))]))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { hits: { type: "string" }, json: { type: "boolean" } } })
  const r = await daemonHit({ hits: Number(values.hits ?? 200) })
  if (values.json) process.stdout.write(JSON.stringify(r) + "\n")
  else {
    console.log(`${r.hits} hits over one socket each (${r.directHits} counted as direct hits), request ${r.requestBytes} bytes`)
    console.log(`${"round trip, median".padEnd(64)} ${r.roundTripMs.toFixed(3)} ms`)
    console.log(`${"the daemon's CPU time per hit".padEnd(64)} ${r.cpuMs.toFixed(3)} ms`)
    console.log(`${"the daemon's own hit timing (stats), mean".padEnd(64)} ${r.hitMs.toFixed(3)} ms`)
    console.log(`${"  of which writing the outputs (stats), mean".padEnd(64)} ${r.outputWriteMs.toFixed(3)} ms`)
    console.log("daemon spans at trace level, median per hit:")
    for (const [k, ms] of Object.entries(r.spansMs).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(62)} ${ms.toFixed(3)} ms`)
  }
}
