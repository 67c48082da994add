// The HTTP front's worker thread (httpFront.ts). Workers do not get the loader hooks tsx installs
// on the main thread, so this plain module registers them before importing the TypeScript.
import { register } from "tsx/esm/api";

register();
await import("./httpFront.ts");
