/**
 * `npm start`: the local server (scripts/local-server.ts) from one bundle of its sources, so the
 * process runs no TypeScript loader (local/mainBundle.mjs says why); if the bundle cannot be
 * built, from the sources through tsx. Arguments pass through: `npm start -- --port 3300`.
 */
import { mainEntry } from "./local/mainBundle.mjs";

const bundle = mainEntry((line) => console.error(line));
if (bundle !== null) {
  await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("./local-server.ts", import.meta.url).href);
}
