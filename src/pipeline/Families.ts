import { gccFamily } from "../families/gcc/GccFamily.ts"
import { msvcFamily } from "../families/msvc/MsvcFamily.ts"
import { rustFamily } from "../families/rust/RustFamily.ts"

/**
 * Every compiler family, asked in this order which one takes a compile (clang-cl
 * is a clang: MSVC first). Adding a family is one
 * folder under src/families/ and one line here.
 */
export const FAMILIES = [msvcFamily, gccFamily, rustFamily] as const
