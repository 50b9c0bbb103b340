import type { Env } from "../config/Config.ts"
import { DaemonClient } from "./DaemonClient.ts"

/** The Effect client the commands run on (compiles never load it: see bin/main.ts). */
export const clientLayer = (env: Env, entry: string) => DaemonClient.layer(env, entry)
