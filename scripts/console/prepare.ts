/**
 * `npm install` (prepare): builds the local-mode Console into its cache (dist/console-local/),
 * so the first `npm start` serves it at once. Never fails the install: without esbuild (a
 * production install) the local server says how to build when `/` is opened.
 */
import { LOCAL_BUILD_DIR, localConsoleFiles } from "./serve";

try {
  await localConsoleFiles();
  console.log(`IAS Console built for local mode (${LOCAL_BUILD_DIR}).`);
} catch (error) {
  console.warn(`IAS Console not built: ${error instanceof Error ? error.message : String(error)}`);
}
