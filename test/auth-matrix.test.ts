/**
 * The auth matrix (SPEC §3): every bearer route of the route table × {no token, malformed
 * header, unknown, expired, revoked, another workspace's token, viewer}. Generated from
 * `routes`, with bodies built from each route's own schema, so a new route is covered as soon
 * as it is in the table. 401s come before validation; FORBIDDEN comes from the domain
 * function after validation, hence bodies that pass the schema.
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { routes } from "../convex/api/routes";
import { CP } from "../convex/api/schemas";
import { mintToken } from "../convex/model/tokens";
import { caller, createRepo, expectError, ok, startWorker } from "./support/api";

import { SERVICE_TOKEN, addMember, createUser, deviceToken, workspaceWithMember } from "./support/fixtures";
import { freshConvex, post, type TestConvex } from "./support/harness";
import { sampleBody } from "./support/route-samples";

/** The JSON routes; the one GET bearer route, `/metrics` (admins only, no body), has its own matrix in metrics.test.ts. */
const bearerRoutes = routes.filter((route) => route.auth === "bearer" && route.method === "POST");
/** SPEC §3: what a viewer may call. Everything else needs member. */
const READ_ROUTE = /\/(list|get|resolve|list-for-job|resolve-run-v1)$/;
/** SPEC §6 "Pause": routes for admins (and the service token) only. */
const ADMIN_ROUTES = new Set([`${CP}/v1/queues/pause`, `${CP}/v1/queues/resume`]);
/** Routes not scoped by a body `workspaceId`, with what a token of another workspace gets instead. */
const NOT_WORKSPACE_SCOPED: Record<string, string> = {
  [`${CP}/v1/workspaces/resolve`]: "answers null for a workspace the token cannot see",
  [`${CP}/v1/auth/token/revoke`]:
    "acts on the bearer token itself, whatever its role (a viewer must be able to log out)",
};

type World = Awaited<ReturnType<typeof buildWorld>>;

/** Workspace acme with one document of each table the routes name, members of each role, broken tokens; workspace other. */
async function buildWorld(t: TestConvex) {
  const acme = await workspaceWithMember(t, "acme", "member");
  const other = await workspaceWithMember(t, "other", "member");
  const viewer = await createUser(t, "viewer@acme.test");
  await addMember(t, acme.workspaceId, viewer, "viewer");
  const call = caller(t, SERVICE_TOKEN);
  const workspaceId = acme.workspaceId;
  const repoId = await createRepo(call, workspaceId);
  const workerId = await startWorker(call, workspaceId, repoId);
  const { jobId } = await ok(call, "/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "p" });
  const { runId } = await ok(call, "/v1/runs/upsert", { workspaceId, repoId, runRef: "r1", status: "queued" });
  const { uncertaintyId, decisionRequestId } = await ok(call, "/v1/uncertainties/create-with-auto-promotion", {
    workspaceId,
    runId,
    prompt: "Which database?",
    kind: "approval",
    confidence: 0.5,
    impact: "high",
    reversibility: "hard",
  });
  const real: Record<string, string> = {
    workspaces: workspaceId,
    repos: repoId,
    workers: workerId,
    jobs: jobId,
    runs: runId,
  };
  Object.assign(real, { uncertainties: uncertaintyId, decisionRequests: decisionRequestId });
  const ids = (table: string) =>
    // Tables without a document here get a well-formed id of that table (convex-test's format:
    // digits, then the table name); the access check runs before anything looks it up.
    real[table] ?? `${"9".repeat(32 - table.length)}${table}`;
  const tokenOf = async (overrides: { expiresAt?: number; revokedAt?: number }) =>
    (await deviceToken(t, workspaceId, acme.member, overrides)).token;
  return {
    ids,
    member: acme.token,
    admin: (await deviceToken(t, workspaceId, acme.owner)).token,
    viewer: (await deviceToken(t, workspaceId, viewer)).token,
    otherWorkspace: other.token,
    expired: await tokenOf({ expiresAt: Date.now() - 1 }),
    revoked: await tokenOf({ revokedAt: Date.now() - 1 }),
    unknown: mintToken().token,
    /** For routes that act on the bearer token itself (revoke): a token nobody else uses. */
    fresh: {
      viewer: async () => (await deviceToken(t, workspaceId, viewer)).token,
      otherWorkspace: async () => (await deviceToken(t, other.workspaceId, other.member)).token,
    },
  };
}

let t: TestConvex;
let world: World;
beforeAll(async () => {
  t = freshConvex({ IAS_DEV_ALLOW_UNAUTH: "" });
  world = await buildWorld(t);
});
afterAll(() => {
  vi.unstubAllEnvs();
});

function send(path: string, body: unknown, authorization?: string) {
  return post(t, path, body, { headers: authorization === undefined ? {} : { authorization } });
}

test("the table has bearer routes, and every one has a sample body its own schema accepts", () => {
  expect(bearerRoutes.length).toBeGreaterThan(20);
  for (const route of bearerRoutes) {
    const parsed = route.request!.safeParse(sampleBody(route, world.ids));
    expect(parsed.success, `${route.path}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
  }
});

test("the only bearer route without a JSON body is GET /metrics (test/metrics.test.ts)", () => {
  const others = routes.filter((route) => route.auth === "bearer" && route.method !== "POST");
  expect(others.map((route) => `${route.method} ${route.path}`)).toEqual([`GET ${CP}/metrics`]);
});

test("every bearer route without a workspaceId in its body is listed with its own rule", () => {
  const unscoped = bearerRoutes
    .filter((route) => !("workspaceId" in sampleBody(route, world.ids)))
    .map((route) => route.path);
  expect(unscoped.sort()).toEqual(Object.keys(NOT_WORKSPACE_SCOPED).sort());
});

describe.each(bearerRoutes.map((route) => [route.path, route] as const))("%s", (path, route) => {
  const body = () => sampleBody(route, world.ids);

  test("no token: 401 MISSING_TOKEN, even with a body that would not validate", async () => {
    expectError(await send(path, body()), 401, "MISSING_TOKEN");
    expectError(await send(path, { workspaceId: 42 }), 401, "MISSING_TOKEN");
  });

  test("malformed Authorization header: 401 INVALID_TOKEN", async () => {
    for (const header of ["Token abc", "Bearer", "Bearer two words", `Basic ${btoa("a:b")}`]) {
      expectError(await send(path, body(), header), 401, "INVALID_TOKEN");
    }
  });

  test("unknown, expired and revoked tokens: 401", async () => {
    expectError(await send(path, body(), `Bearer ${world.unknown}`), 401, "INVALID_TOKEN");
    expectError(await send(path, body(), `Bearer ${world.expired}`), 401, "EXPIRED_TOKEN");
    expectError(await send(path, body(), `Bearer ${world.revoked}`), 401, "INVALID_TOKEN");
  });

  test("a token of another workspace", async () => {
    const token = path in NOT_WORKSPACE_SCOPED ? await world.fresh.otherWorkspace() : world.otherWorkspace;
    const response = await send(path, body(), `Bearer ${token}`);
    if (path === `${CP}/v1/workspaces/resolve`) {
      expect(response.body).toEqual({ ok: true, workspaceId: null, workspace: null });
    } else if (path in NOT_WORKSPACE_SCOPED) {
      expect(response.status).toBe(200);
    } else {
      expectError(response, 403, "FORBIDDEN");
    }
  });

  const isRead = READ_ROUTE.test(path);
  test(
    isRead ? "a viewer passes the access check (read route)" : "a viewer is refused: 403 FORBIDDEN (write route)",
    async () => {
      const token = path in NOT_WORKSPACE_SCOPED ? await world.fresh.viewer() : world.viewer;
      const response = await send(path, body(), `Bearer ${token}`);
      if (isRead || path in NOT_WORKSPACE_SCOPED) {
        expect([401, 403], JSON.stringify(response.body)).not.toContain(response.status);
      } else {
        expectError(response, 403, "FORBIDDEN");
      }
    },
  );
});

describe("the same bodies pass for a member, so the refusals above are about the caller", () => {
  test.each(
    bearerRoutes.filter((route) => !(route.path in NOT_WORKSPACE_SCOPED)).map((route) => [route.path, route] as const),
  )("%s", async (path, route) => {
    const token = ADMIN_ROUTES.has(path) ? world.admin : world.member;
    const response = await send(path, sampleBody(route, world.ids), `Bearer ${token}`);
    expect([401, 403], JSON.stringify(response.body)).not.toContain(response.status);
  });

  test.each([...ADMIN_ROUTES])("%s refuses a member: 403 FORBIDDEN (admin route)", async (path) => {
    const route = bearerRoutes.find((candidate) => candidate.path === path)!;
    expectError(await send(path, sampleBody(route, world.ids), `Bearer ${world.member}`), 403, "FORBIDDEN");
  });
});
