// A cold build through sccache-ts against a plain one (not a timed test): a generated C project of
// 30 files (-O2, four system headers and two local ones) built with `make -jN`, plain and through
// a running daemon with an empty cache, interleaved round by round so that a busy machine's noise
// hits both alike. Prints each round's ratio, their median, and the daemon's CPU time per build
// (what competes with the compilers).
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
const ratios = []
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
    const plain = plainA ?? build(dir, jobs, env, "")
    spawnSync(BIN, ["--stop-server"], { env })
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve() : daemon.on("exit", resolve)))
    ratios.push(cold / plain)
    console.log(`round ${r + 1}: plain ${plain.toFixed(0)} ms, cold ${cold.toFixed(0)} ms, ratio ${(cold / plain).toFixed(3)}, daemon CPU ${daemonCpu.toFixed(0)} ms`)
  }
  console.log(`median cold/plain over ${rounds} rounds (make -j${jobs}): ${median(ratios).toFixed(3)}`)
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
