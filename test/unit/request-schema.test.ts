import { describe, expect, it } from "vitest"
import { decodeRequest, requestBuild } from "../../src/protocol/RequestSchema.ts"

const compile = { type: "compile", build: "b1", exe: "/usr/bin/gcc", args: ["-c", "a.c"], cwd: "/w", env: { PATH: "/bin" }, umask: 0o22 }

describe("request decoding (daemon side)", () => {
  it("accepts the requests of Messages.ts, with the contract's optional fields", () => {
    expect(decodeRequest(compile)).toEqual(compile)
    const full = { ...compile, pid: 42, lossy: true, stderrTty: false }
    expect(decodeRequest(full)).toEqual(full)
    for (const type of ["stats", "zero-stats", "shutdown"]) expect(decodeRequest({ type, build: "b1" })).toEqual({ type, build: "b1" })
  })

  it("refuses a compile without env, with a message that says what is wrong", () => {
    const { env: _, ...noEnv } = compile
    const r = decodeRequest(noEnv)
    expect(r).toHaveProperty("malformed")
    expect((r as { malformed: string }).malformed).toMatch(/env/)
  })

  it.each([
    ["a number for an argument", { ...compile, args: ["-c", 1] }],
    ["an env value that is not a string", { ...compile, env: { A: null } }],
    ["a fractional umask", { ...compile, umask: 1.5 }],
    ["an umask beyond 0777", { ...compile, umask: 0o1000 }],
    ["lossy other than true", { ...compile, lossy: "yes" }],
    ["an unknown type", { type: "format-disk", build: "b1" }],
    ["no object at all", "compile"],
    ["null", null]
  ])("refuses %s", (_, frame) => {
    expect(decodeRequest(frame)).toHaveProperty("malformed")
  })

  it("finds the build of any frame that names one", () => {
    expect(requestBuild({ type: "something-new", build: "b2" })).toBe("b2")
    expect(requestBuild({ build: 3 })).toBeUndefined()
    expect(requestBuild(null)).toBeUndefined()
  })
})
