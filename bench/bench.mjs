// sccache-ts benchmark (`npm run bench`; not a timed test).
//
// Generates, in a temp dir, a C project (40 files, -O2, stdio/stdlib/string/math + 3 local headers) and
// a C++ project (one heavy file with <iostream> <vector> <map> <string> <algorithm> <regex>, plus a few
// small files sharing a header), then measures, in ONE run with the configurations interleaved round by
// round (so noise on this shared machine hits them all alike), the ms per compile of:
//   plain compiler; sccache-ts cold and hit; ccache cold and hit (direct mode, its default);
//   Debian's sccache (0.4) cold and hit; and the floors: /bin/true fork+exec, bare `node` and `bun` starts.
// Every round starts each cache empty (fresh cache dirs, fresh daemons); daemon start is not part of
// the cold figures and is reported separately as sccache-ts' first compile. Cached outputs are checked
// byte for byte against the plain compiler's, and the hit/miss counters of each tool are checked.
//
//   node bench/bench.mjs [--rounds N] [--only c|cpp|rust] [--json out.json] [--keep]
//
// Structure: one small function per scenario. A scenario is an object with `id`, `available(ctx)`
// (a reason to skip, or null), optional `setup(ctx)`, `round(ctx, r)` which adds samples to rows, and
// optional `teardown(ctx)`. Rows beyond the per-compile tables (a hit's breakdown, a second checkout,
// a remote Redis, cargo) are scenarios of their own, listed in `scenarios()`.

import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const STS_BIN = path.join(ROOT, "bin", "sccache-ts")
const CCACHE_BIN = "/usr/bin/ccache"
const SCCACHE_BIN = "/usr/bin/sccache"
/** The package's Bun, which the launcher runs the client on (absent: the client runs on Node). */
const BUN_BIN = [path.join(ROOT, "node_modules", "bun", "bin", "bun.exe")].find((p) => fs.existsSync(p))
const IDLE_TIMEOUT = "300" // daemons we start exit by themselves if the bench is killed hard

// ───────────────────────────── options ─────────────────────────────

function parseOptions(argv) {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: "string", default: "5" },
        only: { type: "string" },
        json: { type: "string" },
        keep: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false }
      },
      strict: true
    }))
  } catch (e) {
    usage(`${e.message} (see --help)`)
  }
  if (values.help) {
    console.log(`usage: node bench/bench.mjs [--rounds N] [--only c|cpp|rust] [--json out.json] [--keep]
  --rounds N     rounds of interleaved measurements (default 5: about 3 minutes on 2 cores)
  --only c|cpp|rust  only the C project, the C++ files, or the cargo workspace
  --json FILE    also write the results as JSON
  --keep         keep the temp dir (generated projects, caches, outputs)`)
    process.exit(0)
  }
  const rounds = Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds must be a positive integer, got "${values.rounds}"`)
  if (values.only !== undefined && !["c", "cpp", "rust"].includes(values.only)) usage(`--only must be c, cpp or rust`)
  return { rounds, only: values.only, json: values.json, keep: values.keep }
}

function usage(msg) {
  console.error(`bench: error: ${msg}`)
  process.exit(2)
}

// ───────────────────────────── running and timing ─────────────────────────────

/** Runs a command and returns its wall time in ms (spawnSync: fork+exec+wait, as a build tool does). */
function timed(cmd, args, { cwd, env, what }) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}`
    throw new Error(`${what ?? cmd}: \`${[cmd, ...args].join(" ")}\` in ${cwd}: ${why}\n${String(r.stderr ?? "").trim()}`)
  }
  return ms
}

/** Runs a command untimed; returns its stdout, or undefined when it fails and `allowFail` is set. */
function run(cmd, args, { cwd, env, allowFail = false, timeout = 60_000 } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", timeout })
  if (r.error !== undefined || r.status !== 0) {
    if (allowFail) return undefined
    throw new Error(`\`${[cmd, ...args].join(" ")}\`: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}\n${r.stderr}`)
  }
  return r.stdout
}

/** The inherited environment without anything that would configure a cache, a daemon or a jobserver. */
function cleanEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SCCACHE_|CCACHE_|RUSTC_WRAPPER$|MAKEFLAGS$|MFLAGS$|CARGO_MAKEFLAGS$)/.test(k)) continue
    env[k] = v
  }
  return { ...env, LC_ALL: "C", ...extra }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
const rotate = (xs, n) => (xs.length === 0 ? xs : xs.map((_, i) => xs[(i + n) % xs.length]))

// ───────────────────────────── statistics and rows ─────────────────────────────

function median(xs) {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const minimum = (xs) => (xs.length === 0 ? undefined : Math.min(...xs))

/** Sections print in the order they are first declared; rows in the order of `order`. */
function declareSection(ctx, id, title, opts = {}) {
  if (!ctx.sections.some((s) => s.id === id)) ctx.sections.push({ id, title, ...opts })
}

function row(ctx, section, key, label, order) {
  const id = `${section}|${key}`
  let r = ctx.rows.get(id)
  if (r === undefined) {
    r = { section, key, label, order, samples: [] }
    ctx.rows.set(id, r)
  }
  return r
}

const rowMedian = (ctx, section, key) => median(ctx.rows.get(`${section}|${key}`)?.samples ?? [])

// ───────────────────────────── project generation ─────────────────────────────

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text)
}

const C_FILES = 40

function cSource(i) {
  const n = String(i).padStart(2, "0")
  return `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "config.h"
#include "types.h"
#include "util.h"

static double weight_${n}(const struct record *r)
{
    return sqrt(fabs(r->value) + ${i}.0) * BENCH_SCALE + bench_clamp(r->value, -${i + 1}.0, ${i + 1}.0);
}

static int compare_${n}(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return strcmp(x->name, y->name);
}

int process_${n}(struct table *t, const char *prefix)
{
    int count = 0;
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < t->len; i++) {
        struct record *r = &t->items[i];
        if (strncmp(r->name, prefix, plen) == 0) {
            r->value = weight_${n}(r) + sin(r->value * ${i + 1}) * cos((double)r->id);
            count++;
        }
    }
    qsort(t->items, t->len, sizeof t->items[0], compare_${n});
    return count;
}

char *describe_${n}(const struct record *r)
{
    char *s = malloc(BENCH_NAME_MAX * 2);
    if (s == NULL) return NULL;
    snprintf(s, BENCH_NAME_MAX * 2, "%s#%d=%.3f/${n}", r->name, r->id, r->value);
    return s;
}

void report_${n}(const struct table *t, FILE *out)
{
    double sum = 0.0, max = -HUGE_VAL;
    for (size_t i = 0; i < t->len; i++) {
        sum += t->items[i].value;
        max = BENCH_MAX(max, t->items[i].value);
    }
    fprintf(out, "table ${n}: %zu records, sum %.2f, max %.2f, mean %.3f\\n",
            t->len, sum, max, t->len ? sum / (double)t->len : 0.0);
}
`
}

/** 40 C files with stdio/stdlib/string/math and 3 local headers (like ccache.md §4). */
function generateCProject(dir) {
  write(path.join(dir, "include", "config.h"), `#ifndef BENCH_CONFIG_H
#define BENCH_CONFIG_H
#define BENCH_NAME_MAX 48
#define BENCH_TABLE_CAP 256
#define BENCH_SCALE 1.5
#define BENCH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BENCH_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
`)
  write(path.join(dir, "include", "types.h"), `#ifndef BENCH_TYPES_H
#define BENCH_TYPES_H
#include <stddef.h>
#include "config.h"
struct record {
    char name[BENCH_NAME_MAX];
    double value;
    int id;
};
struct table {
    struct record items[BENCH_TABLE_CAP];
    size_t len;
};
#endif
`)
  const protos = Array.from({ length: C_FILES }, (_, i) => {
    const n = String(i).padStart(2, "0")
    return `int process_${n}(struct table *t, const char *prefix);\nchar *describe_${n}(const struct record *r);\nvoid report_${n}(const struct table *t, FILE *out);`
  }).join("\n")
  write(path.join(dir, "include", "util.h"), `#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H
#include <stdio.h>
#include "types.h"
static inline double bench_clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}
${protos}
#endif
`)
  const files = []
  for (let i = 0; i < C_FILES; i++) {
    const rel = `src/f${String(i).padStart(2, "0")}.c`
    write(path.join(dir, rel), cSource(i))
    files.push(rel)
  }
  return files
}

/** One heavy C++ file (<iostream> … <regex>) and three small ones sharing a local header. */
function generateCppProject(dir) {
  write(path.join(dir, "heavy.cpp"), `#include <iostream>
#include <vector>
#include <map>
#include <string>
#include <algorithm>
#include <regex>

namespace {

struct Entry {
    std::string word;
    int count;
};

std::map<std::string, int> countWords(const std::string& text)
{
    std::map<std::string, int> counts;
    const std::regex word("[A-Za-z]+");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), word); it != std::sregex_iterator(); ++it)
        ++counts[it->str()];
    return counts;
}

std::vector<Entry> ranked(const std::map<std::string, int>& counts)
{
    std::vector<Entry> out;
    for (const auto& [w, c] : counts) out.push_back({w, c});
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
        return a.count != b.count ? a.count > b.count : a.word < b.word;
    });
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    std::string text = "the quick brown fox jumps over the lazy dog; the dog sleeps";
    for (int i = 1; i < argc; ++i) text += std::string(" ") + argv[i];
    const std::regex date(R"((\\d{4})-(\\d{2})-(\\d{2}))");
    std::smatch m;
    if (std::regex_search(text, m, date)) std::cout << "year " << m[1] << '\\n';
    std::cout << std::regex_replace(text, std::regex("dog"), "cat") << '\\n';
    for (const auto& e : ranked(countWords(text))) std::cout << e.word << ": " << e.count << '\\n';
    return 0;
}
`)
  write(path.join(dir, "include", "shapes.hpp"), `#ifndef BENCH_SHAPES_HPP
#define BENCH_SHAPES_HPP
#include <string>
#include <vector>
#include <cmath>

namespace shapes {

struct Point { double x, y; };

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

template <typename T>
T sum(const std::vector<T>& xs)
{
    T s{};
    for (const auto& x : xs) s += x;
    return s;
}

double distance(Point a, Point b);

} // namespace shapes
#endif
`)
  const small = {
    "circle.cpp": `#include "shapes.hpp"
namespace shapes {
class Circle : public Shape {
    double r_;
public:
    explicit Circle(double r) : r_(r) {}
    double area() const override { return M_PI * r_ * r_; }
    std::string name() const override { return "circle(" + std::to_string(r_) + ")"; }
};
double circleAreas(const std::vector<double>& radii)
{
    std::vector<double> areas;
    for (double r : radii) areas.push_back(Circle(r).area());
    return sum(areas);
}
} // namespace shapes
`,
    "polygon.cpp": `#include "shapes.hpp"
namespace shapes {
double distance(Point a, Point b) { return std::hypot(a.x - b.x, a.y - b.y); }
double perimeter(const std::vector<Point>& pts)
{
    std::vector<double> sides;
    for (std::size_t i = 0; i < pts.size(); ++i) sides.push_back(distance(pts[i], pts[(i + 1) % pts.size()]));
    return sum(sides);
}
} // namespace shapes
`,
    "labels.cpp": `#include "shapes.hpp"
namespace shapes {
std::string joinLabels(const std::vector<std::string>& labels, const std::string& sep)
{
    std::string out;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out += sep;
        out += labels[i];
    }
    return out;
}
int totalLength(const std::vector<std::string>& labels)
{
    std::vector<int> lens;
    for (const auto& l : labels) lens.push_back(static_cast<int>(l.size()));
    return sum(lens);
}
} // namespace shapes
`
  }
  for (const [f, text] of Object.entries(small)) write(path.join(dir, f), text)
  return { heavy: ["heavy.cpp"], small: Object.keys(small) }
}

/** A small C file of its own for sccache-ts' first compile (which starts the daemon), outside the 40. */
const FIRST_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

double first_norm(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i] * v[i];
    return sqrt(s);
}

char *first_label(const char *name, int id)
{
    size_t len = strlen(name) + 16;
    char *s = malloc(len);
    if (s != NULL) snprintf(s, len, "%s-%d", name, id);
    return s;
}
`

// ───────────────────────────── tools (launchers) ─────────────────────────────
// A tool wraps a compiler command line. `beginRound` gives it an empty cache (and a fresh daemon);
// `counters` reads its hit/miss statistics for the round; `stop` stops everything it started.

function plainTool() {
  return {
    id: "plain",
    label: "plain compiler",
    cached: false,
    env: cleanEnv(),
    argv: (cc, args) => [cc, args],
    beginRound() {},
    counters: () => undefined,
    stop() {}
  }
}

function sccacheTsTool(ctx) {
  const daemons = [] // env of every daemon started, for stop()
  const tool = {
    id: "sccache-ts",
    label: "sccache-ts",
    cached: true,
    env: undefined,
    argv: (cc, args) => [STS_BIN, [cc, ...args]],
    beginRound(r) {
      this.stopAll()
      // A new socket each round too: even if a stop failed, no daemon of an earlier round (and cache) serves us.
      this.env = cleanEnv({
        SCCACHE_DIR: path.join(ctx.tmp, "caches", `r${r}`, "sccache-ts"),
        SCCACHE_SERVER_UDS: path.join(ctx.tmp, `sts${r}.sock`),
        SCCACHE_IDLE_TIMEOUT: IDLE_TIMEOUT
      })
      daemons.push(this.env)
      // The very first compile, daemon start included: a cold small C file (not one of the 40).
      const ms = timed(STS_BIN, ["gcc", "-c", "-O2", "first.c", "-o", "first.o"], {
        cwd: ctx.firstDir, env: this.env, what: "sccache-ts first compile"
      })
      row(ctx, "floors", "sts-first", "sccache-ts first compile + daemon start (cold C)", 3).samples.push(ms)
    },
    counters() {
      const out = run(STS_BIN, ["--show-stats", "--stats-format", "json"], { env: this.env, allowFail: true })
      if (out === undefined) return undefined
      const s = JSON.parse(out).stats
      const total = (o) => Object.values(o?.counts ?? {}).reduce((a, b) => a + b, 0)
      return {
        hits: total(s.cache_hits),
        misses: total(s.cache_misses) - 1, // first.c
        direct: total(s.direct_hits),
        preprocessed: total(s.preprocessor_hits)
      }
    },
    stopAll() {
      while (daemons.length > 0) {
        const env = daemons.pop()
        if (fs.existsSync(env.SCCACHE_SERVER_UDS)) run(STS_BIN, ["--stop-server"], { env, allowFail: true, timeout: 20_000 })
      }
    },
    stop() { this.stopAll() }
  }
  return tool
}

function ccacheTool(ctx) {
  return {
    id: "ccache",
    label: "ccache",
    cached: true,
    env: undefined,
    argv: (cc, args) => [CCACHE_BIN, [cc, ...args]],
    beginRound(r) {
      this.env = cleanEnv({ CCACHE_DIR: path.join(ctx.tmp, "caches", `r${r}`, "ccache") })
    },
    counters() {
      const out = run(CCACHE_BIN, ["--print-stats"], { env: this.env, allowFail: true })
      if (out === undefined) return undefined
      const kv = Object.fromEntries(out.trim().split("\n").map((l) => l.split("\t")).map(([k, v]) => [k, Number(v)]))
      return {
        hits: (kv.direct_cache_hit ?? 0) + (kv.preprocessed_cache_hit ?? 0),
        misses: kv.cache_miss ?? 0,
        direct: kv.direct_cache_hit ?? 0,
        preprocessed: kv.preprocessed_cache_hit ?? 0
      }
    },
    stop() {}
  }
}

function sccacheTool(ctx) {
  const servers = []
  return {
    id: "sccache",
    label: "sccache 0.4",
    cached: true,
    env: undefined,
    argv: (cc, args) => [SCCACHE_BIN, [cc, ...args]],
    async prepareRound() {
      this.ports = [await freePort(), await freePort()] // a second one for a retry
    },
    beginRound(r) {
      this.stopAll()
      // Its own free port each round. Startup has been seen to time out once on this machine (its
      // client waits 10 s): retry once on another port, then fail with the server's error log.
      const errorLog = path.join(ctx.tmp, `sccache-r${r}.log`)
      for (const [i, port] of this.ports.entries()) {
        this.env = cleanEnv({
          SCCACHE_DIR: path.join(ctx.tmp, "caches", `r${r}`, "sccache"),
          SCCACHE_SERVER_PORT: String(port),
          SCCACHE_IDLE_TIMEOUT: IDLE_TIMEOUT,
          SCCACHE_ERROR_LOG: errorLog
        })
        servers.push(this.env)
        if (run(SCCACHE_BIN, ["--start-server"], { env: this.env, cwd: ctx.tmp, allowFail: true }) !== undefined) return
        this.stopAll()
        const log = fs.existsSync(errorLog) ? fs.readFileSync(errorLog, "utf8").trim().split("\n").slice(-10).join("\n") : ""
        console.error(`bench: sccache --start-server failed on port ${port}${i === 0 ? ", retrying" : ""}${log ? `\n${log}` : ""}`)
      }
      throw new Error("sccache --start-server failed twice")
    },
    counters() {
      const out = run(SCCACHE_BIN, ["--show-stats", "--stats-format", "json"], { env: this.env, allowFail: true })
      if (out === undefined) return undefined
      const s = JSON.parse(out).stats
      const total = (o) => Object.values(o?.counts ?? {}).reduce((a, b) => a + b, 0)
      return { hits: total(s.cache_hits), misses: total(s.cache_misses) }
    },
    stopAll() {
      while (servers.length > 0) run(SCCACHE_BIN, ["--stop-server"], { env: servers.pop(), allowFail: true, timeout: 20_000 })
    },
    stop() { this.stopAll() }
  }
}

/** Why a Debian-packaged tool can't be used, or null. */
function missingReason(bin) {
  try {
    fs.accessSync(bin, fs.constants.X_OK)
  } catch {
    return `not installed (${bin} not found; apt-get install ${path.basename(bin)})`
  }
  return run(bin, ["--version"], { allowFail: true }) === undefined ? `${bin} --version fails` : null
}

// ───────────────────────────── compile scenarios ─────────────────────────────

const ROW_ORDER = { "plain|plain": 0, "sccache-ts|cold": 1, "sccache-ts|hit": 2, "ccache|cold": 3, "ccache|hit": 4, "sccache|cold": 5, "sccache|hit": 6 }

function rowLabel(tool, phase, cc) {
  if (!tool.cached) return `plain ${cc}`
  if (phase === "cold") return `${tool.label} cold${tool.id === "sccache-ts" ? " (daemon already up)" : ""}`
  return `${tool.label} hit${tool.id === "ccache" ? " (direct mode)" : ""}`
}

/**
 * Compiles every file of a workload once (or `reps` times) through one tool, each compile timed on
 * its own; cwd is the project dir and all paths are relative. Outputs go to out/<tool>-<phase>/.
 */
function compilePass(ctx, wl, tool, phase, reps) {
  const outRel = path.join("out", `${tool.id}-${phase}`)
  const outAbs = path.join(wl.dir, outRel)
  fs.rmSync(outAbs, { recursive: true, force: true })
  fs.mkdirSync(outAbs, { recursive: true })
  const r = row(ctx, wl.section, `${tool.id}|${phase}`, rowLabel(tool, phase, wl.cc), ROW_ORDER[`${tool.id}|${phase}`])
  let build = 0
  for (let rep = 0; rep < reps; rep++) {
    for (const file of wl.files) {
      const obj = path.join(outRel, path.basename(file).replace(/\.\w+$/, ".o"))
      const [cmd, args] = tool.argv(wl.cc, ["-c", ...wl.flags, file, "-o", obj])
      const ms = timed(cmd, args, { cwd: wl.dir, env: tool.env, what: `${tool.label} ${phase}` })
      r.samples.push(ms)
      if (rep === 0) build += ms
    }
  }
  if (wl.buildRows) {
    row(ctx, `${wl.section}-build`, `${tool.id}|${phase}`, rowLabel(tool, phase, wl.cc), ROW_ORDER[`${tool.id}|${phase}`]).samples.push(build)
  }
  if (tool.cached) {
    const c = (ctx.expected[tool.id] ??= { cold: 0, hit: 0 })
    c[phase] += wl.files.length * reps
  }
}

/** Every cached output of this round, byte for byte against the plain compiler's (what `cmp` checks). */
function checkOutputs(ctx, wl, tools) {
  for (const file of wl.files) {
    const obj = path.basename(file).replace(/\.\w+$/, ".o")
    const ref = fs.readFileSync(path.join(wl.dir, "out", "plain-plain", obj))
    for (const tool of tools.filter((t) => t.cached)) {
      for (const phase of ["cold", "hit"]) {
        const p = path.join(wl.dir, "out", `${tool.id}-${phase}`, obj)
        const same = fs.existsSync(p) && fs.readFileSync(p).equals(ref)
        ctx.checked++
        if (!same) ctx.mismatches.push(`${wl.section}: ${tool.label} ${phase}: ${obj} differs from the plain compile's`)
      }
    }
  }
}

/**
 * One round of a workload: every tool's cold pass (plain counts as cold), then every cached tool's hit
 * pass, each list rotated by the round number so no configuration always runs first.
 */
function workloadRound(ctx, wl, r) {
  const tools = ctx.tools
  for (const tool of rotate(tools, r)) compilePass(ctx, wl, tool, tool.cached ? "cold" : "plain", 1)
  for (const tool of rotate(tools.filter((t) => t.cached), r)) compilePass(ctx, wl, tool, "hit", wl.hitReps)
  checkOutputs(ctx, wl, tools)
}

function cScenario() {
  return {
    id: "c",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "c" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      const dir = path.join(ctx.tmp, "c")
      const files = generateCProject(dir)
      this.wl = { section: "c", dir, cc: "gcc", flags: ["-O2", "-Iinclude"], files, hitReps: 1, buildRows: true }
      declareSection(ctx, "c", `C: ${files.length} files, gcc -O2, stdio/stdlib/string/math + 3 local headers — ms per compile`)
      declareSection(ctx, "c-build", `C: the ${files.length}-file project built sequentially — ms per build`)
    },
    round(ctx, r) { workloadRound(ctx, this.wl, r) }
  }
}

function cppHeavyScenario() {
  return {
    id: "cpp-heavy",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "cpp" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      const dir = path.join(ctx.tmp, "cpp")
      ctx.cppFiles ??= generateCppProject(dir)
      // Hits are cheap next to one cold compile: repeat them for a steadier median (ccache.md used 21).
      this.wl = { section: "cpp-heavy", dir, cc: "g++", flags: ["-O2", "-Iinclude"], files: ctx.cppFiles.heavy, hitReps: 7 }
      declareSection(ctx, "cpp-heavy", "C++ heavy: <iostream> <vector> <map> <string> <algorithm> <regex>, g++ -O2 — ms per compile")
    },
    round(ctx, r) { workloadRound(ctx, this.wl, r) }
  }
}

function cppSmallScenario() {
  return {
    id: "cpp-small",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "cpp" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      const dir = path.join(ctx.tmp, "cpp")
      ctx.cppFiles ??= generateCppProject(dir)
      this.wl = { section: "cpp-small", dir, cc: "g++", flags: ["-O2", "-Iinclude"], files: ctx.cppFiles.small, hitReps: 3 }
      declareSection(ctx, "cpp-small", `C++ small: ${ctx.cppFiles.small.length} files sharing a header (<string> <vector> <cmath>), g++ -O2 — ms per compile`)
    },
    round(ctx, r) { workloadRound(ctx, this.wl, r) }
  }
}

/** The floors: fork+exec of /bin/true, and bare starts of the package's Bun (the client) and Node (the daemon). */
function floorsScenario() {
  return {
    id: "floors",
    available: () => null,
    setup(ctx) {
      declareSection(ctx, "floors", "Process floors and daemon start — ms", { noRatios: true })
      this.empty = path.join(ctx.tmp, "empty.mjs")
      fs.writeFileSync(this.empty, "")
    },
    round(ctx) {
      const t = row(ctx, "floors", "true", "fork+exec /bin/true", 1)
      for (let i = 0; i < 20; i++) t.samples.push(timed("/bin/true", [], { cwd: ctx.tmp, env: cleanEnv() }))
      const n = row(ctx, "floors", "node", `bare node start, empty .mjs (Node ${ctx.versions.node})`, 2)
      for (let i = 0; i < 10; i++) n.samples.push(timed(ctx.nodeBin, [this.empty], { cwd: ctx.tmp, env: cleanEnv() }))
      if (ctx.bunBin === undefined) return
      const b = row(ctx, "floors", "bun", `bare bun start, empty .mjs, as the launcher runs it (Bun ${ctx.versions.bun})`, 3)
      for (let i = 0; i < 10; i++) b.samples.push(timed(ctx.bunBin, [...BUN_FLAGS, this.empty], { cwd: ctx.tmp, env: cleanEnv() }))
    }
  }
}

// ───────────────────────────── where a hit's time goes (issue 3 item 6) ─────────────────────────────

/** A socket server that answers every frame at once: what a client costs with a daemon doing nothing. */
const ECHO_SERVER = `const net = require("node:net"); const path = process.argv[1]
const reply = Buffer.from(JSON.stringify({ type: "ok" })); const head = Buffer.alloc(4); head.writeUInt32BE(reply.length)
net.createServer((c) => c.once("data", () => c.end(Buffer.concat([head, reply])))).listen(path, () => process.stdout.write("ready\\n"))`

/** The client's floor on Node: start Node, load node:net, send one frame, read one back. */
const FLOOR_CLIENT = `import net from "node:net"
const body = Buffer.from(JSON.stringify({ type: "stats", build: "bench" })); const head = Buffer.alloc(4); head.writeUInt32BE(body.length)
const c = net.createConnection(process.argv[2], () => c.write(Buffer.concat([head, body]))); c.on("data", () => c.destroy())
`

/** The same on Bun, with its own socket API (as the client uses it). */
const FLOOR_CLIENT_BUN = `const body = Buffer.from(JSON.stringify({ type: "stats", build: "bench" })); const head = Buffer.alloc(4); head.writeUInt32BE(body.length)
await Bun.connect({ unix: process.argv[2], socket: { open: (s) => s.write(Buffer.concat([head, body])), data: (s) => s.end() } })
`

/** What the launcher passes Bun: no .env file, no bunfig.toml from the build directory. */
const BUN_FLAGS = ["--no-env-file", "--config=/dev/null"]

/**
 * A hit on the small C file, split into: the client's floor (Node start + one socket round trip to a
 * server that does nothing), the daemon's work (its own timing of the hit), of which writing the
 * outputs, and what is left (replaying, the compile request's size, exiting).
 */
function hitBreakdownScenario() {
  return {
    id: "breakdown",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "c" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      declareSection(ctx, "breakdown", "A hit on one small C file, broken down — ms", { noRatios: true })
      this.dir = path.join(ctx.tmp, "breakdown")
      write(path.join(this.dir, "one.c"), cSource(0))
      fs.cpSync(path.join(ctx.tmp, "c", "include"), path.join(this.dir, "include"), { recursive: true })
      write(path.join(this.dir, "floor.mjs"), FLOOR_CLIENT)
      write(path.join(this.dir, "floor-bun.mjs"), FLOOR_CLIENT_BUN)
      // The package as `npm install -g` of this checkout links it: <prefix>/bin/sccache-ts -> the launcher.
      const prefix = path.join(ctx.tmp, "npm-prefix")
      fs.mkdirSync(path.join(prefix, "lib", "node_modules"), { recursive: true })
      fs.mkdirSync(path.join(prefix, "bin"), { recursive: true })
      fs.symlinkSync(ROOT, path.join(prefix, "lib", "node_modules", "sccache-ts"))
      fs.symlinkSync("../lib/node_modules/sccache-ts/bin/sccache-ts", path.join(prefix, "bin", "sccache-ts"))
      this.linked = path.join(prefix, "bin", "sccache-ts")
      const sock = path.join(ctx.tmp, "echo.sock")
      this.echo = spawn(ctx.nodeBin, ["-e", ECHO_SERVER, sock], { stdio: ["ignore", "pipe", "inherit"] })
      this.echoSock = sock
      const until = Date.now() + 5000
      while (!fs.existsSync(sock) && Date.now() < until) spawnSync("sleep", ["0.02"])
    },
    round(ctx, r) {
      const env = cleanEnv({ SCCACHE_DIR: path.join(ctx.tmp, "caches", `bd${r}`), SCCACHE_SERVER_UDS: path.join(ctx.tmp, `bd${r}.sock`), SCCACHE_IDLE_TIMEOUT: IDLE_TIMEOUT })
      const args = ["gcc", "-O2", "-Iinclude", "-c", "one.c", "-o", "one.o"]
      try {
        timed(STS_BIN, args, { cwd: this.dir, env, what: "breakdown miss" })
        spawnSync("sleep", ["0.3"]) // the entry and manifest are written after the reply
        run(STS_BIN, ["--zero-stats"], { env })
        const hit = row(ctx, "breakdown", "hit", "sccache-ts hit, whole (client on Bun)", 1)
        for (let i = 0; i < 10; i++) hit.samples.push(timed(STS_BIN, args, { cwd: this.dir, env, what: "breakdown hit" }))
        const linked = row(ctx, "breakdown", "hit-linked", "sccache-ts hit, whole, through npm's global bin link", 1.5)
        for (let i = 0; i < 10; i++) linked.samples.push(timed(this.linked, args, { cwd: this.dir, env, what: "breakdown hit through npm's link" }))
        if (ctx.bunBin !== undefined) {
          const bunFloor = row(ctx, "breakdown", "floor-bun", "  client start: bun start + one socket round trip (Bun.connect)", 2)
          for (let i = 0; i < 10; i++) bunFloor.samples.push(timed(ctx.bunBin, [...BUN_FLAGS, "floor-bun.mjs", this.echoSock], { cwd: this.dir, env: cleanEnv() }))
        }
        const nodeHit = row(ctx, "breakdown", "hit-node", "sccache-ts hit, whole (client on Node: SCCACHE_TS_RUNTIME=node)", 5)
        for (let i = 0; i < 10; i++) nodeHit.samples.push(timed(STS_BIN, args, { cwd: this.dir, env: { ...env, SCCACHE_TS_RUNTIME: "node" }, what: "breakdown hit on node" }))
        const floor = row(ctx, "breakdown", "floor", "  client start on Node: node start + one socket round trip", 6)
        for (let i = 0; i < 10; i++) floor.samples.push(timed(ctx.nodeBin, ["floor.mjs", this.echoSock], { cwd: this.dir, env: cleanEnv() }))
        const s = JSON.parse(run(STS_BIN, ["--show-stats", "--stats-format", "json"], { env })).stats
        const direct = Object.values(s.direct_hits.counts).reduce((a, b) => a + b, 0)
        // sccache's JSON gives totals ({secs, nanos}); every hit restored its outputs once.
        const hits = Object.values(s.cache_hits.counts).reduce((a, b) => a + b, 0)
        const avg = (t) => (hits === 0 ? undefined : (t.secs * 1e3 + t.nanos / 1e6) / hits)
        row(ctx, "breakdown", "daemon", "  daemon work (its own timing)", 3).samples.push(avg(s.cache_read_hit_duration))
        row(ctx, "breakdown", "write", "    of which writing the outputs", 4).samples.push(avg(s.output_write_duration))
        if (direct !== 30) ctx.notes.push(`breakdown: ${direct} of 30 hits were direct-mode hits  ← UNEXPECTED`)
      } finally {
        run(STS_BIN, ["--stop-server"], { env, allowFail: true })
      }
    },
    teardown() {
      this.echo?.kill()
    }
  }
}

// ───────────────────────────── the daemon's side of a hit (issue 8 item 2) ─────────────────────────────

/**
 * The daemon alone on a direct-mode hit of one small C file, from bench/daemon-hit.mjs: the round
 * trip from a process that is already running, the daemon's CPU time and own timing per hit, and
 * its spans (from a second daemon at trace level).
 */
function daemonHitScenario() {
  return {
    id: "daemon-hit",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "c" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      declareSection(ctx, "daemon-hit", "The daemon's side of a hit on one small C file (no client start) — ms", { noRatios: true })
    },
    round(ctx) {
      const out = run(ctx.nodeBin, [path.join(ROOT, "bench", "daemon-hit.mjs"), "--json", "--hits", "100"], { timeout: 300_000 })
      const r = JSON.parse(out)
      row(ctx, "daemon-hit", "trip", "round trip over the socket, median", 1).samples.push(r.roundTripMs)
      row(ctx, "daemon-hit", "cpu", "  the daemon's CPU time per hit", 2).samples.push(r.cpuMs)
      row(ctx, "daemon-hit", "own", "  the daemon's own timing of the hit (stats)", 3).samples.push(r.hitMs)
      row(ctx, "daemon-hit", "write", "    of which writing the outputs", 4).samples.push(r.outputWriteMs)
      Object.entries(r.spansMs).forEach(([name, ms], i) => row(ctx, "daemon-hit", `span ${name}`, `  span ${name} (trace level)`, 10 + i).samples.push(ms))
      if (r.directHits !== r.hits) ctx.notes.push(`daemon-hit: ${r.directHits} of ${r.hits} hits were direct-mode hits  ← UNEXPECTED`)
    }
  }
}

// ───────────────────────────── a second checkout (issue 3 targets) ─────────────────────────────

/**
 * The 40-file project in two checkouts, compiled CMake-style (absolute paths, from a build
 * directory): the second, with SCCACHE_BASEDIRS covering both, must be all hits.
 */
function checkoutScenario() {
  return {
    id: "checkout",
    available: (ctx) => (ctx.opts.only !== undefined && ctx.opts.only !== "c" ? `--only ${ctx.opts.only}` : null),
    setup(ctx) {
      declareSection(ctx, "checkout", "C: the 40-file project in a second checkout, SCCACHE_BASEDIRS set — ms per compile")
      this.root = path.join(ctx.tmp, "checkouts")
      for (const co of ["co1", "co2"]) {
        this.files = generateCProject(path.join(this.root, co))
        fs.mkdirSync(path.join(this.root, co, "build"), { recursive: true })
      }
      spawnSync("sleep", ["1.1"]) // let the sources age past the race guard
    },
    round(ctx, r) {
      const env = cleanEnv({ SCCACHE_DIR: path.join(ctx.tmp, "caches", `co${r}`), SCCACHE_SERVER_UDS: path.join(ctx.tmp, `co${r}.sock`), SCCACHE_IDLE_TIMEOUT: IDLE_TIMEOUT, SCCACHE_BASEDIRS: this.root })
      const compile = (co, f, tool) => {
        const base = path.join(this.root, co)
        const args = ["-O2", `-I${base}/include`, "-c", path.join(base, f), "-o", `${path.basename(f, ".c")}.o`]
        return tool === "plain" ? timed("gcc", args, { cwd: path.join(base, "build"), env: cleanEnv() }) : timed(STS_BIN, ["gcc", ...args], { cwd: path.join(base, "build"), env, what: "checkout" })
      }
      try {
        const plain = row(ctx, "checkout", "plain|plain", "plain gcc (second checkout)", 0)
        for (const f of this.files) plain.samples.push(compile("co2", f, "plain"))
        const first = row(ctx, "checkout", "sccache-ts|cold", "sccache-ts, first checkout (cold)", 1)
        for (const f of this.files) first.samples.push(compile("co1", f, "sts"))
        spawnSync("sleep", ["0.3"])
        const second = row(ctx, "checkout", "sccache-ts|hit", "sccache-ts, second checkout", 2)
        const before = JSON.parse(run(STS_BIN, ["--show-stats", "--stats-format", "json"], { env })).stats
        for (const f of this.files) second.samples.push(compile("co2", f, "sts"))
        const after = JSON.parse(run(STS_BIN, ["--show-stats", "--stats-format", "json"], { env })).stats
        const total = (o) => Object.values(o.counts).reduce((a, b) => a + b, 0)
        this.hits = (this.hits ?? 0) + total(after.cache_hits) - total(before.cache_hits)
        this.compiles = (this.compiles ?? 0) + this.files.length
        ctx.secondCheckout = { hits: this.hits, compiles: this.compiles }
      } finally {
        run(STS_BIN, ["--stop-server"], { env, allowFail: true })
      }
    }
  }
}

// ───────────────────────────── remote: Redis (issue 4 item 7) ─────────────────────────────
// Scenarios set up and run synchronously, so starting Redis and waiting for it are synchronous too.

const REDIS_SERVER_BIN = "/usr/bin/redis-server"
const REDIS_CLI_BIN = "/usr/bin/redis-cli"

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Polls `check` every 50 ms for at most `ms`; throws unless it comes true. */
function waitSync(what, ms, check) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    sleepSync(50)
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago, asked of a child Node (freePort is asynchronous). */
function freePortSync() {
  const js = `const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { process.stdout.write(String(s.address().port)); s.close() })`
  return Number(run(process.execPath, ["-e", js]))
}

/**
 * A redis-server of the bench's own on 127.0.0.1 (a free port; no persistence). It dies with the
 * bench: SIGKILL on exit, and setpriv's parent-death signal if the bench itself is killed.
 */
function startRedisSync(dir) {
  fs.mkdirSync(dir, { recursive: true })
  for (let attempt = 1; ; attempt++) {
    const port = freePortSync()
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir]
    const child = fs.existsSync("/usr/bin/setpriv")
      ? spawn("/usr/bin/setpriv", ["--pdeathsig", "KILL", "--", REDIS_SERVER_BIN, ...args], { stdio: "ignore" })
      : spawn(REDIS_SERVER_BIN, args, { stdio: "ignore" })
    // Not a reason to keep the bench running: it is stopped when the bench exits.
    child.unref()
    process.once("exit", () => child.kill("SIGKILL"))
    const cli = (...command) => run(REDIS_CLI_BIN, ["-p", String(port), ...command], { allowFail: true })?.trim()
    try {
      waitSync(`redis-server on 127.0.0.1:${port}`, 5_000, () => cli("ping") === "PONG")
    } catch (e) {
      // Another process may have taken the port before redis-server bound it.
      child.kill("SIGKILL")
      if (attempt === 3) throw e
      continue
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      flush() {
        if (cli("flushall") !== "OK") throw new Error(`redis-cli -p ${port} flushall failed`)
      }
    }
  }
}

const REDIS_ROWS = { cold: "cold: empty disk and Redis (warms Redis)", hit: "warm: EMPTY local disk, entries in Redis" }

/**
 * The tools that can keep their cache in Redis, and what differs between them: where a daemon
 * listens, and what its JSON stats say it uploaded and hit in Redis. sccache-ts uploads each
 * entry and its direct-mode manifest after the reply and hits both; sccache 0.4 has no local
 * tier with SCCACHE_REDIS, so its every hit is a Redis hit.
 */
function redisClients(ctx) {
  const total = (o) => Object.values(o?.counts ?? {}).reduce((a, b) => a + b, 0)
  const client = (c) => ({ ...c, argv: (cc, args) => [c.bin, [cc, ...args]] })
  return [
    client({
      id: "sccache-ts", label: "sccache-ts", bin: STS_BIN, blobsPerCompile: 2,
      listen: (name) => ({ SCCACHE_SERVER_UDS: path.join(ctx.tmp, `${name}.sock`) }),
      uploads: (s) => s.levels.redis?.writes ?? 0,
      hits: (s) => ({ compiles: total(s.cache_hits), fromRedis: s.levels.redis?.hits ?? 0 })
    }),
    client({
      id: "sccache", label: "sccache 0.4", bin: SCCACHE_BIN, blobsPerCompile: 1,
      listen: () => ({ SCCACHE_SERVER_PORT: String(freePortSync()) }),
      uploads: (s) => s.cache_writes,
      hits: (s) => ({ compiles: total(s.cache_hits), fromRedis: total(s.cache_hits) })
    })
  ]
}

/** A fresh daemon of `client` on Redis at `url` with an empty local cache, or why it would not start. */
function redisDaemon(ctx, client, name, url) {
  const env = cleanEnv({ SCCACHE_DIR: path.join(ctx.tmp, "caches", name), SCCACHE_IDLE_TIMEOUT: IDLE_TIMEOUT, SCCACHE_REDIS: url, ...client.listen(name) })
  const r = spawnSync(client.bin, ["--start-server"], { cwd: ctx.tmp, env, encoding: "utf8", timeout: 30_000 })
  if (r.status !== 0) return { error: `${r.stdout}${r.stderr}`.trim().split("\n").pop() }
  return {
    env,
    stats: () => JSON.parse(run(client.bin, ["--show-stats", "--stats-format", "json"], { env })).stats,
    stop: () => run(client.bin, ["--stop-server"], { env, allowFail: true, timeout: 20_000 })
  }
}

/**
 * Remote: a machine with an empty local disk builds the C project (40 files, as the c section)
 * with every entry already in Redis, put there by a cold build on another empty disk; per tool
 * that caches in Redis, interleaved round by round, next to plain gcc. Redis is flushed before each
 * tool's warm-up; the hits are checked to come from Redis, and the outputs against plain gcc's.
 */
function redisScenario() {
  return {
    id: "redis",
    available(ctx) {
      if (ctx.opts.only !== undefined && ctx.opts.only !== "c") return `--only ${ctx.opts.only}`
      return [REDIS_SERVER_BIN, REDIS_CLI_BIN].map(missingReason).find((why) => why !== null) ?? null
    },
    setup(ctx) {
      const dir = path.join(ctx.tmp, "redis")
      this.redis = startRedisSync(path.join(dir, "server"))
      const files = generateCProject(path.join(dir, "project"))
      this.wl = { section: "redis", dir: path.join(dir, "project"), cc: "gcc", flags: ["-O2", "-Iinclude"], files }
      // sccache where installed, if it was built with Redis (Debian's 0.4 was not).
      this.clients = redisClients(ctx).filter((c) => c.id === "sccache-ts" || ctx.tools.some((t) => t.id === c.id))
      for (const c of this.clients.filter((c) => c.id !== "sccache-ts")) {
        const probe = redisDaemon(ctx, c, `redis-probe-${c.id}`, this.redis.url)
        if (probe.error === undefined) probe.stop()
        else {
          ctx.skipped.push(`${c.label} with Redis: ${probe.error}`)
          this.clients = this.clients.filter((other) => other !== c)
        }
      }
      declareSection(ctx, "redis", `C, remote: the ${files.length}-file project from an EMPTY local disk, every entry in Redis (127.0.0.1) — ms per compile`)
    },
    /** One timed pass, as compilePass's for the tools, under this section's own row labels. */
    pass(ctx, client, phase, env) {
      // Named first: row() keeps the label a row was created with. Not "cached" for compilePass,
      // whose expected counts are the main tools' (these daemons are checked here instead).
      row(ctx, this.wl.section, `${client.id}|${phase}`, `${client.label} ${REDIS_ROWS[phase]}`, ROW_ORDER[`${client.id}|${phase}`])
      compilePass(ctx, this.wl, { ...client, env, cached: false }, phase, 1)
    },
    round(ctx, r) {
      const plain = ctx.tools.find((t) => !t.cached)
      compilePass(ctx, this.wl, plain, "plain", 1)
      const n = this.wl.files.length
      for (const client of rotate(this.clients, r)) {
        this.redis.flush()
        const warm = redisDaemon(ctx, client, `redis-r${r}-${client.id}-warm`, this.redis.url)
        if (warm.error !== undefined) throw new Error(`${client.label} with Redis: ${warm.error}`)
        this.pass(ctx, client, "cold", warm.env)
        // Uploads run after the replies: the measured build starts once they are all in.
        waitSync(`${client.label}: uploads to Redis`, 30_000, () => client.uploads(warm.stats()) >= n * client.blobsPerCompile)
        warm.stop()
        const fresh = redisDaemon(ctx, client, `redis-r${r}-${client.id}-fresh`, this.redis.url)
        if (fresh.error !== undefined) throw new Error(`${client.label} with Redis: ${fresh.error}`)
        this.pass(ctx, client, "hit", fresh.env)
        const hits = client.hits(fresh.stats())
        fresh.stop()
        if (hits.compiles !== n || hits.fromRedis !== n * client.blobsPerCompile) {
          throw new Error(`${client.label} from Redis: ${hits.compiles} hits of ${n} compiles, ${hits.fromRedis} blobs from Redis (expected ${n * client.blobsPerCompile})`)
        }
      }
      checkOutputs(ctx, this.wl, [plain, ...this.clients.map((c) => ({ ...c, cached: true }))])
    }
  }
}
// ───────────────────────────── Rust (issue 5 item 8) ─────────────────────────────

const RUST_FIXTURE = path.join(ROOT, "test", "fixtures", "rust-workspace")
const RUST_FIXTURE_LIBS = 3 // geometry, greeting, buildinfo
const RUST_ITEMS = 120

/** Data types with the usual derives and a generic table over them: library code of the common kind. */
function rustItem(i) {
  return `
/// A record kind, number ${i}.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Kind${i} { #[default] Plain, Keyed(u32), Pair(u16, u16), Named { id: u64, rank: i32 } }

/// A record, number ${i}.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Record${i} { pub id: u64, pub name: String, pub kind: Kind${i}, pub tags: Vec<String>, pub parent: Option<Box<Record${i}>> }

/// A keyed table, number ${i}.
pub struct Table${i}<K, V> { rows: BTreeMap<K, Vec<V>>, limit: usize }

impl<K: Ord + Clone + Display, V: Clone + Display> Table${i}<K, V> {
    pub fn new(limit: usize) -> Self { Self { rows: BTreeMap::new(), limit } }
    pub fn insert(&mut self, key: K, value: V) -> Result<(), String> {
        let row = self.rows.entry(key.clone()).or_default();
        if row.len() >= self.limit {
            return Err(format!("row {} of table ${i} is full ({} values)", key, row.len()));
        }
        row.push(value);
        Ok(())
    }
    pub fn render(&self) -> String {
        self.rows.iter().map(|(k, vs)| format!("{}={}", k, vs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))).collect::<Vec<_>>().join(";")
    }
}
`
}

/**
 * The test fixture (test/fixtures/rust-workspace), behind a chain of `deps` generated library
 * crates, dep0 <- dep1 <- … <- geometry, standing in for the crates.io dependencies this machine
 * can't fetch: the fixture's own crates are tiny, real dependencies are not. Returns the library count.
 */
function generateRustWorkspace(dir, deps) {
  fs.cpSync(RUST_FIXTURE, dir, { recursive: true })
  if (deps === 0) return RUST_FIXTURE_LIBS
  for (let d = 0; d < deps; d++) {
    const dep = d === 0 ? "" : `dep${d - 1} = { path = "../dep${d - 1}" }\n`
    write(path.join(dir, "deps", `dep${d}`, "Cargo.toml"), `[package]\nname = "dep${d}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${dep}`)
    const items = Array.from({ length: RUST_ITEMS }, (_, i) => rustItem(i)).join("")
    const reexport = d === 0 ? "" : `pub use dep${d - 1}::Record0 as Inner;\n`
    write(path.join(dir, "deps", `dep${d}`, "src", "lib.rs"), `use std::collections::BTreeMap;\nuse std::fmt::Display;\n${reexport}${items}`)
  }
  const manifest = path.join(dir, "Cargo.toml")
  fs.writeFileSync(manifest, fs.readFileSync(manifest, "utf8").replace("members = [", `members = [${Array.from({ length: deps }, (_, d) => `"deps/dep${d}", `).join("")}`))
  fs.appendFileSync(path.join(dir, "crates", "geometry", "Cargo.toml"), `\n[dependencies]\ndep${deps - 1} = { path = "../../deps/dep${deps - 1}" }\n`)
  fs.rmSync(path.join(dir, "Cargo.lock"), { force: true })
  return RUST_FIXTURE_LIBS + deps
}

const RUST_ROWS = { plain: "plain cargo build --release", cold: "cold: empty cache", hit: "warm: cargo clean, full cache" }

/**
 * Rust: a clean release build of a workspace through each tool that caches rustc, twice: with an
 * empty cache, then after `cargo clean` with the cache full (the daemons stay up, as in a working
 * session). Each tool builds into a target directory of its own; each built binary must print what
 * the plain build's prints. Once on the fixture as it is, once behind `deps` generated libraries.
 */
function rustScenario(section, deps) {
  return {
    id: section,
    available(ctx) {
      if (ctx.opts.only !== undefined && ctx.opts.only !== "rust") return `--only ${ctx.opts.only}`
      return run("cargo", ["--version"], { allowFail: true }) === undefined ? "cargo not found" : null
    },
    setup(ctx) {
      this.dir = path.join(ctx.tmp, section)
      this.libs = generateRustWorkspace(this.dir, deps)
      run("cargo", ["generate-lockfile", "--offline"], { cwd: this.dir, env: cleanEnv() })
      const what = deps === 0
        ? "test/fixtures/rust-workspace as it is (3 tiny libraries, a build script, a binary)"
        : `the fixture behind ${deps} generated library crates in a chain, each ${RUST_ITEMS} derive-heavy records and generic tables (${this.libs} libraries)`
      declareSection(ctx, section, `Rust: clean \`cargo build --release\` of ${what} — ms per build`)
    },
    build(ctx, tool, phase) {
      const target = path.join(this.dir, `target-${tool.id}`)
      const env = { ...tool.env, CARGO_TARGET_DIR: target, CARGO_TERM_COLOR: "never", CARGO_INCREMENTAL: "0" }
      if (tool.cached) env.RUSTC_WRAPPER = tool.argv("rustc", [])[0]
      run("cargo", ["clean", "--release", "--offline"], { cwd: this.dir, env })
      const ms = timed("cargo", ["build", "--release", "--offline", "-q"], { cwd: this.dir, env, what: `${tool.label} cargo ${phase}` })
      row(ctx, section, `${tool.id}|${phase}`, tool.cached ? `${tool.label} ${RUST_ROWS[phase]}` : RUST_ROWS.plain, ROW_ORDER[`${tool.id}|${phase}`]).samples.push(ms)
      const out = run(path.join(target, "release", "app"), [], { cwd: this.dir })
      if (phase === "plain") this.expectedOutput = out
      ctx.checked++
      if (out !== this.expectedOutput) ctx.mismatches.push(`${section}: ${tool.label} ${phase}: the binary prints ${JSON.stringify(out)}`)
      if (tool.cached) (ctx.expected[tool.id] ??= { cold: 0, hit: 0 })[phase] += this.libs
    },
    round(ctx, r) {
      const tools = ctx.tools.filter((t) => t.id !== "ccache")
      // The plain build first: the reference output.
      this.build(ctx, tools.find((t) => !t.cached), "plain")
      for (const tool of rotate(tools.filter((t) => t.cached), r)) this.build(ctx, tool, "cold")
      for (const tool of rotate(tools.filter((t) => t.cached), r)) this.build(ctx, tool, "hit")
    }
  }
}

function scenarios() {
  return [cScenario(), cppHeavyScenario(), cppSmallScenario(), floorsScenario(), hitBreakdownScenario(), daemonHitScenario(), checkoutScenario(), redisScenario(), rustScenario("rust-fixture", 0), rustScenario("rust", 4)]
}

// ───────────────────────────── report ─────────────────────────────

const fmt = (x, digits) => (x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits ?? (x < 10 ? 2 : 1)))
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b)

function tableRows(ctx) {
  const out = []
  for (const s of ctx.sections) {
    const rows = [...ctx.rows.values()].filter((r) => r.section === s.id).sort((a, b) => a.order - b.order)
    const plain = rowMedian(ctx, s.id, "plain|plain")
    const scHit = rowMedian(ctx, s.id, "sccache|hit")
    const ccHit = rowMedian(ctx, s.id, "ccache|hit")
    for (const r of rows) {
      const med = median(r.samples)
      out.push({
        section: s.id, config: r.label, median: med, min: minimum(r.samples), n: r.samples.length,
        vsPlain: s.noRatios ? undefined : ratio(med, plain),
        vsSccacheHit: s.noRatios ? undefined : ratio(med, scHit),
        vsCcacheHit: s.noRatios ? undefined : ratio(med, ccHit)
      })
    }
  }
  return out
}

function printTable(ctx, rows) {
  const head = ["config", "median", "min", "n", "×plain", "×sccache hit", "×ccache hit"]
  const w = [Math.max(40, ...rows.map((r) => r.config.length)), 9, 9, 5, 8, 13, 12]
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(" ")
  for (const s of ctx.sections) {
    const rs = rows.filter((r) => r.section === s.id)
    if (rs.length === 0) continue
    console.log(`\n${s.title}`)
    console.log(line(head))
    console.log(line(w.map((n) => "-".repeat(n))))
    for (const r of rs) {
      console.log(line([r.config, fmt(r.median), fmt(r.min), String(r.n), fmt(r.vsPlain, 2), fmt(r.vsSccacheHit, 2), fmt(r.vsCcacheHit, 2)]))
    }
  }
}

/** The targets of the speed issue (issue 8), each as a ratio (or ms) of one run's medians. */
function summary(ctx) {
  const m = (s, k) => rowMedian(ctx, s, k)
  const minus = (a, b) => (a === undefined || b === undefined ? undefined : a - b)
  const items = [
    { name: "C hit, small file: sccache-ts hit / sccache 0.4 hit", value: ratio(m("c", "sccache-ts|hit"), m("c", "sccache|hit")), target: 0.6, op: "<=" },
    { name: "C hit, small file: sccache-ts hit / ccache hit", value: ratio(m("c", "sccache-ts|hit"), m("c", "ccache|hit")), target: 2.5, op: "<=" },
    { name: "C++ heavy hit: sccache-ts hit / sccache 0.4 hit", value: ratio(m("cpp-heavy", "sccache-ts|hit"), m("cpp-heavy", "sccache|hit")), target: 0.3, op: "<=" },
    { name: "C++ heavy hit: sccache-ts hit / ccache hit", value: ratio(m("cpp-heavy", "sccache-ts|hit"), m("cpp-heavy", "ccache|hit")), target: 2, op: "<=" },
    { name: "C 40-file build, cold, one compile at a time: sccache-ts / plain gcc", value: ratio(m("c-build", "sccache-ts|cold"), m("c-build", "plain|plain")), target: 1.08, op: "<=" },
    { name: "C 40-file build, warm: sccache-ts / sccache 0.4", value: ratio(m("c-build", "sccache-ts|hit"), m("c-build", "sccache|hit")), target: 0.6, op: "<=" },
    { name: "C 40-file build, warm: sccache-ts / ccache", value: ratio(m("c-build", "sccache-ts|hit"), m("c-build", "ccache|hit")), target: 3, op: "<=" },
    { name: "first compile with no daemon: ms over a plain compile", value: minus(m("floors", "sts-first"), m("c", "plain|plain")), target: 250, op: "<=" },
    { name: "daemon's own time for a small C hit, ms", value: m("daemon-hit", "own"), target: 1, op: "<=" },
    { name: "Rust warm rebuild (7 libraries): sccache-ts / sccache 0.4", value: ratio(m("rust", "sccache-ts|hit"), m("rust", "sccache|hit")), target: 0.7, op: "<=" },
    { name: "Second checkout with SCCACHE_BASEDIRS: share of hits", value: ctx.secondCheckout && ctx.secondCheckout.hits / ctx.secondCheckout.compiles, target: 1, op: ">=" },
    { name: "C hit: sccache-ts hit on Bun / on Node (info)", value: ratio(m("breakdown", "hit"), m("breakdown", "hit-node")) },
    { name: "C hit: client start on Bun / bare bun (info)", value: ratio(m("breakdown", "floor-bun"), m("floors", "bun")) },
    { name: "C hit: sccache-ts hit / bare node start (info)", value: ratio(m("c", "sccache-ts|hit"), m("floors", "node")) },
    { name: "Rust warm rebuild, fixture alone: sccache-ts / sccache 0.4 (info)", value: ratio(m("rust-fixture", "sccache-ts|hit"), m("rust-fixture", "sccache|hit")) },
    { name: "Rust cold build: sccache-ts cold / plain cargo (info)", value: ratio(m("rust", "sccache-ts|cold"), m("rust", "plain|plain")) }
  ]
  for (const it of items) {
    if (it.target === undefined || it.value === undefined) it.met = undefined
    else it.met = it.op === "<=" ? it.value <= it.target : it.op === ">=" ? it.value >= it.target : it.value < it.target
  }
  return items
}

function printSummary(items) {
  console.log("\nTargets (issue 8; same run, medians; make -j2 cold builds: bench/cold-build.mjs)")
  const w = Math.max(...items.map((i) => i.name.length))
  for (const it of items) {
    const target = it.target === undefined ? "" : `target ${it.op} ${it.target.toFixed(2)}  ${it.met === undefined ? "(not measured)" : it.met ? "met" : "NOT MET"}`
    console.log(`  ${it.name.padEnd(w)}  ${fmt(it.value, 2).padStart(6)}   ${target}`)
  }
}

function printChecks(ctx) {
  console.log("\nChecks")
  console.log(ctx.mismatches.length === 0
    ? `  outputs: all ${ctx.checked} cached outputs (cold and hit) byte-identical to the plain compile's`
    : `  outputs: ${ctx.mismatches.length} of ${ctx.checked} cached outputs DIFFER from the plain compile's:\n    ${ctx.mismatches.slice(0, 20).join("\n    ")}`)
  for (const [id, c] of Object.entries(ctx.counters)) {
    const e = ctx.expected[id] ?? { cold: 0, hit: 0 }
    const ok = c.hits === e.hit && c.misses === e.cold
    const split = c.direct !== undefined ? ` (direct ${c.direct}, preprocessor ${c.preprocessed})` : ""
    console.log(`  ${id}: hits ${c.hits}${split} of ${e.hit} hit-pass compiles, misses ${c.misses} of ${e.cold} cold compiles${ok ? "" : "  ← UNEXPECTED"}`)
  }
  for (const n of ctx.notes) console.log(`  ${n}`)
  for (const s of ctx.skipped) console.log(`  skipped: ${s}`)
}

// ───────────────────────────── main ─────────────────────────────

function versions(nodeBin) {
  const first = (cmd, args) => (run(cmd, args, { allowFail: true }) ?? "").split("\n")[0].trim() || "—"
  return {
    node: first(nodeBin, ["--version"]),
    bun: BUN_BIN === undefined ? "—" : first(BUN_BIN, ["--version"]),
    gcc: first("gcc", ["--version"]),
    "g++": first("g++", ["--version"]),
    ccache: fs.existsSync(CCACHE_BIN) ? first(CCACHE_BIN, ["--version"]) : "—",
    sccache: fs.existsSync(SCCACHE_BIN) ? first(SCCACHE_BIN, ["--version"]) : "—",
    "sccache-ts": first(STS_BIN, ["--version"])
  }
}

/** The Node the launcher runs without Bun, and the daemon's: the package's own, else this one. */
function clientNode() {
  const own = path.join(ROOT, "node_modules", "node", "bin", "node")
  return fs.existsSync(own) ? own : process.execPath
}

async function main() {
  const opts = parseOptions(process.argv.slice(2))
  if (!fs.existsSync(path.join(ROOT, "dist", "client.mjs"))) usage(`dist/ is missing: run \`node scripts/build.mjs\` first (npm run bench does)`)
  const nodeBin = clientNode()
  const ctx = {
    opts,
    tmp: fs.mkdtempSync(path.join(os.tmpdir(), "sccache-ts-bench-")),
    nodeBin,
    bunBin: BUN_BIN,
    versions: versions(nodeBin),
    sections: [],
    rows: new Map(),
    tools: [],
    expected: {},
    counters: {},
    mismatches: [],
    checked: 0,
    skipped: [],
    notes: []
  }
  let cleaned = false
  const cleanup = () => {
    if (cleaned) return
    cleaned = true
    for (const t of ctx.tools) {
      try { t.stop() } catch (e) { console.error(`bench: stopping ${t.label}: ${e.message}`) }
    }
    if (opts.keep) console.error(`bench: kept ${ctx.tmp}`)
    else fs.rmSync(ctx.tmp, { recursive: true, force: true })
  }
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}: stopping daemons and removing ${ctx.tmp}`)
      cleanup()
      process.exit(128 + os.constants.signals[sig])
    })
  }
  try {
    await bench(ctx)
  } catch (e) {
    console.error(`bench: error: ${e.message}`)
    process.exitCode = 1
  } finally {
    cleanup()
  }
}

async function bench(ctx) {
  const { opts } = ctx
  const t0 = Date.now()
  const log = (msg) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}`)

  // Tools: plain and sccache-ts always; ccache and sccache when installed.
  ctx.tools.push(plainTool(), sccacheTsTool(ctx))
  for (const [bin, make] of [[CCACHE_BIN, ccacheTool], [SCCACHE_BIN, sccacheTool]]) {
    const why = missingReason(bin)
    if (why === null) ctx.tools.push(make(ctx))
    else ctx.skipped.push(`${path.basename(bin)}: ${why}`)
  }

  // Scenarios and generated sources.
  ctx.firstDir = path.join(ctx.tmp, "first")
  write(path.join(ctx.firstDir, "first.c"), FIRST_C)
  const active = []
  for (const s of scenarios()) {
    const why = s.available(ctx)
    if (why !== null) {
      if (!why.startsWith("--only")) ctx.skipped.push(`${s.id}: ${why}`)
      continue
    }
    s.setup?.(ctx)
    active.push(s)
  }
  // ccache (and our direct mode) won't trust a header modified in the second of the compile: let the
  // generated sources age a little before the first compile.
  await sleep(2100)

  console.log(`sccache-ts benchmark — ${new Date().toISOString()}`)
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  for (const [k, v] of Object.entries(ctx.versions)) console.log(`  ${k}: ${v}`)
  console.log(`rounds: ${opts.rounds}, configurations interleaved per round; each round starts every cache empty`)
  console.log(`sccache-ts cold figures exclude daemon start (daemon started by a first compile before each round's`)
  console.log(`measurements; that first compile is reported on its own). Times are wall ms of spawnSync from Node.`)
  for (const s of ctx.skipped) console.log(`skipped: ${s}`)

  for (let r = 1; r <= opts.rounds; r++) {
    for (const t of ctx.tools) await t.prepareRound?.()
    for (const t of ctx.tools) t.beginRound(r)
    for (const s of active) {
      log(`round ${r}/${opts.rounds}: ${s.id}`)
      s.round(ctx, r)
    }
    for (const t of ctx.tools) {
      const c = t.counters()
      if (c === undefined) continue
      const acc = (ctx.counters[t.id] ??= {})
      for (const [k, v] of Object.entries(c)) acc[k] = (acc[k] ?? 0) + v
    }
  }
  for (const s of active) s.teardown?.(ctx)
  log(`done (load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`)

  const rows = tableRows(ctx)
  const items = summary(ctx)
  printTable(ctx, rows)
  printSummary(items)
  printChecks(ctx)

  if (opts.json !== undefined) {
    const data = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
      versions: ctx.versions,
      rounds: opts.rounds,
      only: opts.only ?? null,
      sections: ctx.sections.map(({ id, title }) => ({ id, title })),
      rows,
      summary: items,
      checks: { outputsChecked: ctx.checked, mismatches: ctx.mismatches, counters: ctx.counters, expected: ctx.expected },
      skipped: ctx.skipped
    }
    fs.writeFileSync(path.resolve(opts.json), JSON.stringify(data, null, 2) + "\n")
    console.log(`\nwrote ${path.resolve(opts.json)}`)
  }
}

await main()
