/**
 * Profiling aids' shared set-up: the local engine in this process on a fresh temporary data
 * directory, with a service token, and a POST helper through its HTTP router (no sockets).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "../local/engine";
import { convexModuleMap } from "../local/modules";
import { openJournalStore } from "../local/store";

export async function inProcessEngine(name: string) {
  const token = `ias_${name.replace(/\W/g, "_")}_token_0123456789`;
  process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = token;
  const dir = mkdtempSync(join(tmpdir(), `ias-${name}-`));
  const store = openJournalStore(dir);
  const engine = await createEngine({ modules: convexModuleMap(), store });
  const post = (route: string, body: object) =>
    engine.t.fetch(`/control-plane${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return {
    engine,
    /** POST /control-plane<route> with the service token; the response, not yet durable. */
    post,
    /** The same POST, answered once durable (as the server does); throws unless `ok`. */
    async api(route: string, body: object): Promise<Record<string, any>> {
      const response = await post(route, body);
      await engine.durable();
      const answer = (await response.json()) as Record<string, any>;
      if (answer.ok !== true) throw new Error(`${route}: ${JSON.stringify(answer)}`);
      return answer;
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
