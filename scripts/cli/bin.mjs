#!/usr/bin/env node
// Launcher for `npx ias`: runs the TypeScript CLI through tsx in this same process, so signals
// (Ctrl-C drains a worker) and exit codes need no forwarding.
import { tsImport } from "tsx/esm/api";

await tsImport("./ias.ts", import.meta.url);
