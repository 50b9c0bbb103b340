import { gccFamily } from "../families/gcc/GccFamily.ts"
import { rustFamily } from "../families/rust/RustFamily.ts"

/**
 * Every compiler family, asked in this order which one takes a compile. Adding a family is one
 * folder under src/families/ and one line here.
 */
export const FAMILIES = [gccFamily, rustFamily] as const
