// Cold builds through sccache-ts, ccache and Debian's sccache against a plain one (not a timed
// test): a generated C project of 30 files (-O2, four system headers and two local ones) built with
// `make -jN`, plain and through each cache with an empty cache, interleaved round by round so that
// a busy machine's noise hits all alike. Prints each round's ratios, their medians, and the
// sccache-ts daemon's CPU time per build (what competes with the compilers). ccache and sccache
// are left out when not installed.
//
//   node bench/cold-build.mjs [--rounds N] [--jobs N] [--files N]

import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { daemonOf } from "./daemon-hit.mjs"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const BIN = path.join(ROOT, "bin", "sccache-ts")

const source = (i) => `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "types.h"
#include "util.h"

static int cmp_${i}(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

double work_${i}(struct rec *r, size_t n, const char *prefix)
{
    double sum = 0;
    for (size_t k = 0; k < n; k++)
        if (strncmp(r[k].name, prefix, strlen(prefix)) == 0) sum += sqrt(fabs(r[k].value)) * SCALE + clampd(r[k].value, -${i}.0, ${i}.0);
    qsort(r, n, sizeof *r, cmp_${i});
    char *s = malloc(64);
    if (s != NULL) { snprintf(s, 64, "%zu/%.3f/${i}", n, sum); puts(s); free(s); }
    return sum;
}
`

function generate(dir, files) {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "types.h"), "#pragma once\n#include <stddef.h>\nstruct rec { char name[32]; double value; };\n")
  fs.writeFileSync(path.join(dir, "util.h"), "#pragma once\n#define SCALE 1.5\nstatic inline double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }\n")
  const objs = []
  for (let i = 0; i < files; i++) {
    fs.writeFileSync(path.join(dir, `f${i}.c`), source(i))
    objs.push(`f${i}.o`)
  }
  fs.writeFileSync(path.join(dir, "Makefile"), `all: ${objs.join(" ")}\n%.o: %.c\n\t$(WRAP) gcc -O2 -c $< -o $@\nclean:\n\trm -f *.o\n`)
}

const cpuMs = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function build(dir, jobs, env, wrap) {
  spawnSync("make", ["clean"], { cwd: dir, env })
  const t0 = process.hrtime.bigint()
  const r = spawnSync("make", [`-j${jobs}`, `WRAP=${wrap}`], { cwd: dir, env })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`make failed: ${r.stderr}`)
  return ms
}

const { values } = parseArgs({ options: { rounds: { type: "string" }, jobs: { type: "string" }, files: { type: "string" } } })
const rounds = Number(values.rounds ?? 5)
const jobs = Number(values.jobs ?? 2)
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sct-cold-"))
const dir = path.join(tmp, "src")
generate(dir, Number(values.files ?? 30))
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SCCACHE_|MAKEFLAGS$|MFLAGS$|MAKELEVEL$)/.test(k)))
const has = (bin) => spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0
const others = [["ccache", "/usr/bin/ccache"], ["sccache", "/usr/bin/sccache"]].filter(([, bin]) => has(bin))
const ratios = { "sccache-ts": [], ...Object.fromEntries(others.map(([name]) => [name, []])) }
try {
  for (let r = 0; r < rounds; r++) {
    const env = { ...base, LC_ALL: "C", SCCACHE_DIR: path.join(tmp, `cache${r}`), SCCACHE_SERVER_UDS: path.join(tmp, `d${r}.sock`), SCCACHE_IDLE_TIMEOUT: "60" }
    // In this session, not detached as a client starts it: with the kernel's autogroups a daemon in
    // a session of its own gets a CPU share of its own on a busy machine, which plain make does not.
    const daemon = spawn(BIN, [], { env: { ...env, SCCACHE_START_SERVER: "1" }, stdio: "ignore" })
    while (!fs.existsSync(env.SCCACHE_SERVER_UDS)) spawnSync("sleep", ["0.02"])
    const pid = daemonOf(env.SCCACHE_SERVER_UDS)
    // Alternate which goes first, so neither always runs on a warmer machine.
    const first = r % 2 === 0
    const plainA = first ? build(dir, jobs, env, "") : undefined
    const cpu0 = pid === undefined ? 0 : cpuMs(pid)
    const cold = build(dir, jobs, env, BIN)
    // The background cache writes finish after make does: they count as the daemon's work too.
    spawnSync("sleep", ["1"])
    const daemonCpu = pid === undefined ? NaN : cpuMs(pid) - cpu0
    spawnSync(BIN, ["--stop-server"], { env })
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve() : daemon.on("exit", resolve)))
    const line = [`round ${r + 1}:`]
    const times = { "sccache-ts": cold }
    for (const [name, bin] of others) {
      // sccache's server on a port of its own (its default may be taken), started before the build as ours was.
      const own = { ...base, LC_ALL: "C", CCACHE_DIR: path.join(tmp, `ccache${r}`), SCCACHE_DIR: path.join(tmp, `sccache${r}`), SCCACHE_IDLE_TIMEOUT: "60", SCCACHE_SERVER_PORT: String(14226 + r) }
      if (name === "sccache") spawnSync(bin, ["--start-server"], { env: own })
      times[name] = build(dir, jobs, own, bin)
      if (name === "sccache") spawnSync(bin, ["--stop-server"], { env: own })
    }
    const plain = plainA ?? build(dir, jobs, env, "")
    for (const [name, ms] of Object.entries(times)) {
      ratios[name].push(ms / plain)
      line.push(`${name} ${ms.toFixed(0)} ms (${(ms / plain).toFixed(3)})`)
    }
    console.log(`${line.join(" ")}, plain ${plain.toFixed(0)} ms, sccache-ts daemon CPU ${daemonCpu.toFixed(0)} ms`)
  }
  for (const [name, rs] of Object.entries(ratios)) console.log(`median cold/plain over ${rounds} rounds (make -j${jobs}), ${name}: ${median(rs).toFixed(3)}`)
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
