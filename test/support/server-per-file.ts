/**
 * One local server for a whole test file: started before its tests, stopped (and its temporary
 * directories removed) after them. `const server = serverPerFile();` then `server().baseUrl`.
 */
import { afterAll, beforeAll } from "vitest";
import { removeTempDirs, spawnLocalServer, type LocalProcess, type SpawnOptions } from "./local-process";

export function serverPerFile(options: SpawnOptions = {}): () => LocalProcess {
  let server: LocalProcess | undefined;
  beforeAll(async () => {
    server = await spawnLocalServer(options);
  });
  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });
  return () => {
    if (server === undefined) throw new Error("the server starts in beforeAll; use it inside tests or hooks");
    return server;
  };
}
