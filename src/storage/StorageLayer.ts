import { Layer } from "effect"
import { DaemonConfig } from "../config/Config.ts"
import { DiskStorage } from "./DiskStorage.ts"

/** The daemon's Storage, chosen from its configuration. */
export const StorageLayer = DiskStorage.layer satisfies Layer.Layer<any, any, DaemonConfig>
