/**
 * Fails when convex/_generated/ is not what `npm run codegen` produces from convex/ now.
 * Regenerates into place, compares with what was there, and puts the old files back.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../convex/_generated", import.meta.url));
const snapshot = (): Map<string, string> =>
  new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), "utf8")]));

const before = snapshot();
execFileSync("npx", ["convex", "codegen", "--system-udfs", "--typecheck", "disable"], { stdio: "inherit" });
const after = snapshot();
const stale = [...new Set([...before.keys(), ...after.keys()])].filter((name) => before.get(name) !== after.get(name));
if (stale.length > 0) {
  for (const [name, text] of before) writeFileSync(join(dir, name), text);
  console.error(`convex/_generated is stale (${stale.join(", ")}): run \`npm run codegen\` and commit the result.`);
  process.exit(1);
}
console.log("convex/_generated is current.");
