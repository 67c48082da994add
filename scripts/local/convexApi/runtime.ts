/**
 * What the Convex client surface of local mode shares: the function runner, the commit clock,
 * JWT verification against `convex/auth.config.ts`, and the one place answers wait for durability.
 */
import type { Engine } from "../engine";
import type { ModuleMap } from "../modules";
import { createCommitClock, createFunctionRunner } from "./functions";
import { AuthFailure, createIdentityVerifier } from "./identity";

export function createConvexRuntime(engine: Engine, modules: ModuleMap, log: (line: string) => void) {
  const clock = createCommitClock(engine);
  const runner = createFunctionRunner(engine, modules, clock, log);
  const configKey = Object.keys(modules).find((key) => /^(\.\.\/)+convex\/auth\.config\.[jt]s$/.test(key));
  const verify = createIdentityVerifier(
    // Read on first use: the config reads CONVEX_SITE_URL, which the server sets once it listens.
    async () => (configKey === undefined ? undefined : (await modules[configKey]!()).default),
    (url) => fetchJson(engine, url),
  );
  return {
    clock,
    runner,
    verify,
    onCommit: engine.onCommit,
    /**
     * DURABILITY POINT (the one place): every answer to a Convex client (HTTP response, sync
     * message) awaits this first: every commit so far and every blob is on disk (group commit).
     */
    durable: () => engine.durable(),
    log,
  };
}
export type ConvexRuntime = ReturnType<typeof createConvexRuntime>;

const FETCH_TIMEOUT_MS = 10_000;

/**
 * The issuer's OpenID configuration and keys. This deployment's own site (where @convex-dev/auth
 * serves them) is answered by the in-process router, whatever port it is reachable on.
 */
async function fetchJson(engine: Engine, url: string): Promise<unknown> {
  const target = new URL(url);
  const ownSites = [process.env.CONVEX_SITE_URL, process.env.IAS_LOCAL_BASE_URL].filter(Boolean) as string[];
  const own = ownSites.some((site) => new URL(site).origin === target.origin);
  const response = own
    ? await engine.t.fetch(target.pathname + target.search)
    : await fetch(target, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok)
    throw new AuthFailure("INVALID_TOKEN", `Fetching ${url} for the JWT's keys answered ${response.status}.`);
  return await response.json();
}
