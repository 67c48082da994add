/** The CLI's version: the package's, so workers report what they run (`agentVersion`). */
import { readFileSync } from "node:fs";

export const CLI_VERSION: string = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
).version;
