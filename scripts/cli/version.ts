/**
 * The CLI's version: the package's, so workers report what they run (`agentVersion`). Imported,
 * not read at run time, so the bundle (build.mjs) carries it wherever it lives.
 */
import packageJson from "../../package.json" with { type: "json" };

export const CLI_VERSION: string = packageJson.version;
