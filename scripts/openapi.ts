/**
 * Writes openapi.json from the route table (`npm run openapi`).
 * `--check` exits non-zero when the committed file differs from what the table produces.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openApi } from "../convex/api/routes";

export const OPENAPI_PATH = fileURLToPath(new URL("../openapi.json", import.meta.url));

export function renderOpenApi(): string {
  return `${JSON.stringify(openApi(), null, 2)}\n`;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const rendered = renderOpenApi();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(OPENAPI_PATH, "utf8");
    } catch {
      // missing counts as stale
    }
    if (current !== rendered) {
      console.error("openapi.json is stale: run `npm run openapi` and commit the result.");
      process.exit(1);
    }
    console.log("openapi.json is current.");
  } else {
    writeFileSync(OPENAPI_PATH, rendered);
    console.log(`wrote ${OPENAPI_PATH.split("/").slice(-1)[0]}`);
  }
}
