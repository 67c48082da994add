/**
 * Fails when convex/_generated/ is not byte for byte what `npx convex deploy` would write from
 * convex/ now (run offline against a loopback backend; see scripts/codegen.ts). Changes nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployOffline } from "./deploy/offline-deploy";

const projectDir = fileURLToPath(new URL("..", import.meta.url));
const generatedDir = join(projectDir, "convex", "_generated");

const committed = new Map(
  readdirSync(generatedDir).map((name) => [name, readFileSync(join(generatedDir, name), "utf8")]),
);
const { generated } = await deployOffline({ projectDir });
const names = [...new Set([...committed.keys(), ...generated.keys()])].sort();
const stale = names.filter((name) => committed.get(name) !== generated.get(name));
if (stale.length > 0) {
  console.error(`convex/_generated is stale (${stale.join(", ")}): run \`npm run codegen\` and commit the result.`);
  process.exit(1);
}
console.log("convex/_generated is what `npx convex deploy` writes.");
