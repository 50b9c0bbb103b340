import { createHash } from "node:crypto"

/**
 * Hashes named, length-prefixed fields, so no two different field lists can produce the same
 * byte stream (a plain join would make `["a b"]` and `["a", "b"]` collide).
 */
export class KeyBuilder {
  private readonly hash = createHash("sha256")
  field(name: string, value: string | Uint8Array): this {
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value
    this.hash.update(`${name}:${bytes.length}:`).update(bytes).update("\n")
    return this
  }
  list(name: string, values: ReadonlyArray<string>): this {
    this.field(name, String(values.length))
    for (const v of values) this.field("", v)
    return this
  }
  digest(): string {
    return this.hash.digest("hex")
  }
}
