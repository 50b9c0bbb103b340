/**
 * What a Rust entry from a shared cache may put in --out-dir and in the dep-info cargo reads:
 * only the files this compile's arguments make, and only the variables its key covers.
 */
import { it } from "@effect/vitest"
import { Schema } from "effect"
import { describe, expect } from "vitest"
import { keyedEnv, rustRoleAllowed } from "../../src/cache/RustKey.ts"
import { parseRustArgs, type RustCompilation, withEnvValues } from "../../src/compiler/RustArgs.ts"

const compilation = (extra: ReadonlyArray<string> = [], emit = "dep-info,metadata,link"): RustCompilation => {
  const r = parseRustArgs([
    "--crate-name", "greeting", "--edition=2021", "src/lib.rs", "--crate-type", "lib", `--emit=${emit}`,
    "-C", "extra-filename=-0d1c", "--out-dir", "/ws/target/debug/deps", ...extra
  ])
  if (r._tag !== "Compilation") throw new Error(r.reason)
  return r.compilation
}

describe("roles a Rust entry may restore", () => {
  it("the compile's own outputs, and the long-type files its diagnostics name", () => {
    const c = compilation()
    for (const role of ["lib*.rlib", "lib*.rmeta", "*.d", "*.long-type-12345678901234.txt"]) expect(rustRoleAllowed(c, role)).toBe(true)
  })

  it.each(["lib*.so", "lib*.a", "*.rs", "lib*.rlib.bak", "*.dwo", "*.greeting.abc-cgu.0.rcgu.o", "*.long-type-x.txt", "*", "lib*"])(
    "not %s, which these arguments don't make",
    (role) => expect(rustRoleAllowed(compilation(), role)).toBe(false)
  )

  it("only the outputs of the --emit kinds asked for", () => {
    const c = compilation([], "metadata")
    expect(rustRoleAllowed(c, "lib*.rmeta")).toBe(true)
    expect(rustRoleAllowed(c, "lib*.rlib")).toBe(false)
    expect(rustRoleAllowed(c, "*.d")).toBe(false)
  })

  it("split debug info only when the arguments ask for it", () => {
    const role = "*.greeting.abc123-cgu.0.rcgu.dwo"
    expect(rustRoleAllowed(compilation(), role)).toBe(false)
    expect(rustRoleAllowed(compilation(["-C", "split-debuginfo=unpacked"]), role)).toBe(true)
    expect(rustRoleAllowed(compilation(["-C", "split-debuginfo=packed"]), "*.dwp")).toBe(true)
    expect(rustRoleAllowed(compilation(["-C", "split-debuginfo=off"]), "*.dwp")).toBe(false)
  })
})

describe("variables a restored dep-info shows", () => {
  const Name = Schema.Literals(["FOO", "BAR", "AWS_SECRET_ACCESS_KEY", "HOME", "OUT_DIR"])
  it.prop("only those the key was computed from, with the client's values", [Schema.Array(Name), Schema.Array(Name)], ([listed, keyed]) => {
    const env = { FOO: "1", BAR: "two", AWS_SECRET_ACCESS_KEY: "s3cr3t", HOME: "/home/u", OUT_DIR: "/ws/out" }
    const dep = `/ws/target/debug/deps/greeting.d: src/lib.rs\n\n${listed.map((n) => `# env-dep:${n}`).join("\n")}\n`
    const out = withEnvValues(dep, keyedEnv(env, keyed))
    for (const name of listed) {
      const line = out.split("\n").find((l) => l.startsWith(`# env-dep:${name}`))!
      expect(line).toBe(keyed.includes(name) ? `# env-dep:${name}=${env[name]}` : `# env-dep:${name}`)
    }
  }, { arbitrary: { runs: 200, seed: 9 } })

  it("a poisoned entry listing AWS_SECRET_ACCESS_KEY gets no value for it", () => {
    const dep = "x.d: src/lib.rs\n\n# env-dep:FOO=old\n# env-dep:AWS_SECRET_ACCESS_KEY\n"
    const out = withEnvValues(dep, keyedEnv({ FOO: "new", AWS_SECRET_ACCESS_KEY: "s3cr3t" }, ["FOO"]))
    expect(out).toBe("x.d: src/lib.rs\n\n# env-dep:FOO=new\n# env-dep:AWS_SECRET_ACCESS_KEY\n")
  })
})
