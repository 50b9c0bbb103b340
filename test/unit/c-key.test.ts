import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { cKey, type CKeyInputs } from "../../src/cache/CKey.ts"
import { type GccCompilation, parseGccArgs } from "../../src/compiler/GccArgs.ts"

const compilation = (args: Array<string>): GccCompilation => {
  const r = parseGccArgs(args, "gcc")
  if (r._tag !== "Cacheable") throw new Error(r.reason)
  return r.compilation
}

const base: CKeyInputs = {
  compiler: { family: "gcc", identity: "id-1", version: "gcc 12" },
  driver: "/usr/bin/gcc",
  compilation: compilation(["-c", "a.c", "-O2"]),
  cwd: "/work/p",
  env: { PATH: "/usr/bin", HOME: "/root" },
  files: [],
  sourceDigest: "digest-1",
  cpu: "cpu-1"
}

/** Each change here alters what the compiler produces, so each must give a new key. */
const CHANGES: Record<string, (k: CKeyInputs) => CKeyInputs> = {
  "compiler identity": (k) => ({ ...k, compiler: { ...k.compiler, identity: "id-2" } }),
  "driver name (clang vs clang++)": (k) => ({ ...k, driver: "/usr/bin/g++" }),
  "preprocessed text": (k) => ({ ...k, sourceDigest: "digest-2" }),
  "an optimisation flag": (k) => ({ ...k, compilation: compilation(["-c", "a.c", "-O3"]) }),
  "language": (k) => ({ ...k, compilation: compilation(["-c", "-x", "c++", "a.c", "-O2"]) }),
  "a -MP that changes the .d": (k) => ({ ...k, compilation: compilation(["-c", "a.c", "-O2", "-MD", "-MP"]) }),
  "LANG (translated diagnostics)": (k) => ({ ...k, env: { ...k.env, LANG: "de_DE.UTF-8" } }),
  "the cache buster": (k) => ({ ...k, env: { ...k.env, SCCACHE_C_CUSTOM_CACHE_BUSTER: "2" } }),
  "a deployment target": (k) => ({ ...k, env: { ...k.env, MACOSX_DEPLOYMENT_TARGET: "11" } }),
  "the content of a file an option names": (k) => ({ ...k, files: ["ignore.txt\0digest-x"] })
}

/** And these do not: sharing depends on it. */
const SAME: Record<string, (k: CKeyInputs) => CKeyInputs> = {
  "the output name": (k) => ({ ...k, compilation: compilation(["-c", "a.c", "-O2", "-o", "other/x.o"]) }),
  "include paths and macros": (k) => ({ ...k, compilation: compilation(["-Iinc", "-DX", "-c", "a.c", "-O2"]) }),
  "the working directory without -g": (k) => ({ ...k, cwd: "/elsewhere" }),
  "unrelated environment": (k) => ({ ...k, env: { ...k.env, PATH: "/opt/bin", RANDOM_VAR: "1" } }),
  "the CPU without -march=native": (k) => ({ ...k, cpu: "cpu-2" }),
  // It only changes __DATE__/__TIME__, which the preprocessed text (the source digest) already shows.
  "SOURCE_DATE_EPOCH": (k) => ({ ...k, env: { ...k.env, SOURCE_DATE_EPOCH: "1700000000" } })
}

describe("cKey", () => {
  for (const [what, change] of Object.entries(CHANGES)) {
    it(`changes with ${what}`, () => expect(cKey(change(base))).not.toBe(cKey(base)))
  }
  for (const [what, change] of Object.entries(SAME)) {
    it(`ignores ${what}`, () => expect(cKey(change(base))).toBe(cKey(base)))
  }

  it("includes the working directory with -g, unless a prefix map hides it", () => {
    const g = { ...base, compilation: compilation(["-c", "a.c", "-g"]) }
    expect(cKey({ ...g, cwd: "/other" })).not.toBe(cKey(g))
    const mapped = (cwd: string) => ({ ...base, cwd, compilation: compilation(["-c", "a.c", "-g", `-fdebug-prefix-map=${cwd}=.`]) })
    expect(cKey(mapped("/one/p"))).not.toBe(cKey(mapped("/two/p"))) // the map's text itself differs
    const sharedMap = (cwd: string) => ({ ...base, cwd, compilation: compilation(["-c", "a.c", "-g", "-ffile-prefix-map=/co=."]) })
    expect(cKey(sharedMap("/co"))).toBe(cKey({ ...sharedMap("/co"), cwd: "/co" }))
  })

  it("includes the object's own path with split DWARF, and the CPU with -march=native", () => {
    const split = { ...base, compilation: compilation(["-c", "a.c", "-gsplit-dwarf", "-o", "a.o"]) }
    expect(cKey({ ...split, compilation: compilation(["-c", "a.c", "-gsplit-dwarf", "-o", "b.o"]) })).not.toBe(cKey(split))
    const native = { ...base, compilation: compilation(["-c", "a.c", "-march=native"]) }
    expect(cKey({ ...native, cpu: "cpu-2" })).not.toBe(cKey(native))
  })

  it.prop("argument lists never collide by concatenation", [Schema.Array(Schema.String), Schema.Array(Schema.String)], ([a, b]) => {
    const k = (args: ReadonlyArray<string>) => cKey({ ...base, compilation: { ...base.compilation, keyArgs: args } })
    if (JSON.stringify(a) !== JSON.stringify(b)) expect(k(a)).not.toBe(k(b))
  }, { arbitrary: { runs: 300, seed: 5 } })
})
