/**
 * `npm run codegen`: writes convex/_generated/ exactly as `npx convex deploy` writes it, by running
 * that deploy offline against a loopback backend (scripts/deploy/offline-deploy.ts). The
 * `--system-udfs` codegen writes an older form (no `components` export, an untyped `env`), so a
 * real deploy would rewrite those files and the freshness check would call them stale.
 */
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployOffline } from "./deploy/offline-deploy";

const projectDir = fileURLToPath(new URL("..", import.meta.url));
const generatedDir = join(projectDir, "convex", "_generated");

const { generated } = await deployOffline({ projectDir });
if (generated.size === 0) throw new Error("The offline deploy wrote no convex/_generated files.");
for (const name of readdirSync(generatedDir)) if (!generated.has(name)) rmSync(join(generatedDir, name));
for (const [name, text] of generated) writeFileSync(join(generatedDir, name), text);
console.log(`convex/_generated: wrote ${[...generated.keys()].join(", ")}.`);
