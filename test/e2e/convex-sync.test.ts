// @vitest-environment node
/**
 * Local mode's WebSocket sync protocol with the unmodified `ConvexClient` (on the `ws` package)
 * against the real server: subscriptions that follow commits from the worker HTTP API and from
 * other clients, read-your-writes and optimistic updates that settle, gapless paginated
 * subscriptions, and sign-in refresh after the server rejects an expired JWT.
 */
import type { ConvexClient } from "convex/browser";
import type { PaginationResult } from "convex/server";
import { afterEach, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { apiClient, type Api } from "../../scripts/bench/socket-workers";
import {
  eventually,
  httpClient,
  nowSeconds,
  onPaginated,
  PASSWORD,
  signedToken,
  signUp,
  waitForValue,
  wsClient,
  type Session,
} from "../support/convex-clients";
import type { LocalProcess } from "../support/local-process";
import { serverPerFile } from "../support/server-per-file";

const localServer = serverPerFile();
let server: LocalProcess;
let service: Api;
let ada: Session;
let workspaceId: Id<"workspaces">;
let repoId: string;
const clients: ConvexClient[] = [];

beforeAll(async () => {
  server = localServer();
  service = apiClient(server.apiUrl, server.serviceToken);
  ada = await signUp(server, "ada@example.com");
  workspaceId = await httpClient(server, ada.token).mutation(api.workspaces.create, { slug: "ada-lab", name: "Lab" });
  repoId = (await service("/v1/repos/upsert", { workspaceId, remoteUrlHash: "lab-origin", status: "active" })).repoId;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function client(token: string | undefined = ada.token) {
  const created = wsClient(server, token);
  clients.push(created);
  return created;
}

const firstPage = { numItems: 50, cursor: null };
type JobList = PaginationResult<{ _id: string; prompt: string; status: string }>;
const prompts = (page: JobList) => page.page.map((job) => job.prompt);

async function enqueueOverHttp(prompt: string): Promise<string> {
  return (await service("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt })).jobId;
}

test("a subscription answers, then follows a job enqueued over the worker HTTP API", async () => {
  const ada1 = client();
  const initial = await waitForValue(
    ada1,
    api.jobsConsole.list,
    { workspaceId, paginationOpts: firstPage },
    () => true,
  );
  const before = initial.value.page.length;
  const updated = waitForValue(ada1, api.jobsConsole.list, { workspaceId, paginationOpts: firstPage }, (page) =>
    prompts(page).includes("from the worker API"),
  );
  const jobId = await enqueueOverHttp("from the worker API");
  const { value } = await updated;
  expect(value.page).toHaveLength(before + 1);
  expect(value.page[0]).toMatchObject({ _id: jobId, status: "pending" });
});

test("a subscription follows a scheduled function's commit (the lease timer recovering a job)", async () => {
  // Its own workspace, so the claim takes this job and no other.
  const { workspaceId: ownId } = await freshWorkspace("timers");
  const own = (await service("/v1/repos/upsert", { workspaceId: ownId, remoteUrlHash: "t", status: "active" })).repoId;
  const { jobId } = await service("/v1/jobs/enqueue", {
    workspaceId: ownId,
    repoId: own,
    kind: "work",
    prompt: "abandoned",
  });
  const { workerId } = await service("/v1/workers/heartbeat", {
    workspaceId: ownId,
    displayName: "vanishing",
    status: "online",
    capabilities: { reposAllowed: [own] },
  });
  const claim = await service("/v1/jobs/claim-next", { workspaceId: ownId, workerId, leaseMs: 10_000 });
  expect(claim.jobId).toBe(jobId);
  const args = { workspaceId: ownId, jobId: jobId as Id<"jobs"> };
  const { values } = await waitForValue(
    client(),
    api.jobsConsole.get,
    args,
    (view) => view?.job.status === "pending",
    30_000,
  );
  expect(values[0]!.job.status).toBe("running");
  expect(values.at(-1)!.events.map((event) => event.type)).toContain("recovered");
}, 60_000);

test("another client's mutation reaches a subscriber; the mutation's result is visible when it resolves", async () => {
  const watcher = client();
  const writer = client();
  const seen: JobList[] = [];
  watcher.onUpdate(api.jobsConsole.list, { workspaceId, paginationOpts: firstPage }, (page) => void seen.push(page));
  // The writer subscribes too: when its mutation resolves, its own subscription already shows the write.
  let writersView: JobList | undefined;
  writer.onUpdate(
    api.jobsConsole.list,
    { workspaceId, paginationOpts: firstPage },
    (page) => void (writersView = page),
  );
  await eventually(() => writersView !== undefined && seen.length > 0, 20_000, "first results");

  const result = await writer.mutation(api.jobsConsole.enqueue, {
    workspaceId,
    repoId,
    kind: "work",
    prompt: "from a client",
  });
  expect(result).toEqual({ jobId: expect.any(String), deduplicated: false });
  expect(writersView!.page[0]!._id).toBe(result.jobId);
  await eventually(() => seen.at(-1)!.page[0]?._id === result.jobId, 20_000, "the watcher seeing the job");
});

test("an optimistic update shows at once and settles into the server's result", async () => {
  const ada1 = client();
  const args = { workspaceId, paginationOpts: firstPage };
  await waitForValue(ada1, api.jobsConsole.list, args, () => true);
  const views: string[][] = [];
  ada1.onUpdate(api.jobsConsole.list, args, (page) => void views.push(prompts(page)));
  const done = ada1.mutation(
    api.jobsConsole.enqueue,
    { workspaceId, repoId, kind: "work", prompt: "optimistic" },
    {
      optimisticUpdate: (store) => {
        const current = store.getQuery(api.jobsConsole.list, args);
        if (current === undefined) return;
        const placeholder = { ...current.page[0]!, _id: "placeholder" as Id<"jobs">, prompt: "optimistic (pending)" };
        store.setQuery(api.jobsConsole.list, args, { ...current, page: [placeholder, ...current.page] });
      },
    },
  );
  await eventually(() => views.some((view) => view[0] === "optimistic (pending)"), 5_000, "the optimistic row");
  const { jobId } = await done;
  await eventually(() => views.at(-1)![0] === "optimistic", 5_000, "the settled row");
  const last = ada1.client.localQueryResult("jobsConsole:list", args) as unknown as JobList;
  expect(last.page[0]!._id).toBe(jobId);
  expect(prompts(last)).not.toContain("optimistic (pending)");
});

test("a paginated subscription grows without gaps or duplicates as jobs arrive, and loads more", async () => {
  const { workspaceId: pagedId } = await freshWorkspace("paged");
  const pagedRepo = (await service("/v1/repos/upsert", { workspaceId: pagedId, remoteUrlHash: "p", status: "active" }))
    .repoId;
  const enqueue = (prompt: string) =>
    service("/v1/jobs/enqueue", { workspaceId: pagedId, repoId: pagedRepo, kind: "work", prompt });
  for (let i = 1; i <= 5; i++) await enqueue(`job ${i}`);

  const ada1 = client();
  let latest: { results: Array<{ prompt: string }>; status: string; loadMore: (n: number) => boolean } | undefined;
  const subscription = onPaginated(
    ada1,
    api.jobsConsole.list,
    { workspaceId: pagedId },
    2,
    (result) => (latest = result),
  );
  const names = () => latest!.results.map((job) => job.prompt);
  await eventually(() => latest?.status === "CanLoadMore", 20_000, "the first page");
  expect(names()).toEqual(["job 5", "job 4"]);
  latest!.loadMore(2);
  await eventually(() => names().length === 4, 20_000, "the second page");
  expect(names()).toEqual(["job 5", "job 4", "job 3", "job 2"]);

  for (let i = 6; i <= 8; i++) await enqueue(`job ${i}`);
  // The first page keeps its end (the query journal), so it grows in place and then splits.
  await eventually(() => names().length === 7, 20_000, "the grown first page");
  expect(names()).toEqual(["job 8", "job 7", "job 6", "job 5", "job 4", "job 3", "job 2"]);
  latest!.loadMore(5);
  await eventually(() => latest!.status === "Exhausted", 20_000, "the last page");
  expect(names()).toEqual(["job 8", "job 7", "job 6", "job 5", "job 4", "job 3", "job 2", "job 1"]);
  subscription.unsubscribe();
});

test("an expired JWT gets the client's auth error; the client refreshes and its queries run as the user", async () => {
  const grace = await signUp(server, "grace@example.com");
  await httpClient(server, grace.token).mutation(api.workspaces.create, { slug: "grace-lab", name: "Grace" });
  // Expired, and naming Ada: had the server accepted it, the first results would be Ada's.
  const expired = await signedToken(server, {
    sub: `${ada.userId}|stale`,
    iat: nowSeconds() - 7200,
    exp: nowSeconds() - 3600,
  });
  const requests: boolean[] = [];
  const graceClient = client(undefined);
  graceClient.setAuth(async ({ forceRefreshToken }) => {
    requests.push(forceRefreshToken);
    if (!forceRefreshToken) return expired;
    // What ConvexAuthProvider does: trade the refresh token for a new JWT over HTTP.
    const refreshed = await httpClient(server).action(api.auth.signIn, { refreshToken: grace.refreshToken });
    return refreshed.tokens?.token ?? null;
  });
  const { values } = await waitForValue(graceClient, api.workspaces.listMine, {}, (list) => list.length > 0);
  expect(values.map((list) => list.map((workspace) => workspace.slug))).toEqual([["grace-lab"]]);
  expect(requests.slice(0, 2)).toEqual([false, true]);
});

test("sign-in and sign-out run over the WebSocket, as ConvexAuthProvider calls them", async () => {
  const anonymous = client(undefined);
  const signedIn = await anonymous.action(api.auth.signIn, {
    provider: "password",
    params: { email: "linus@example.com", password: PASSWORD, flow: "signUp" },
  });
  expect(signedIn.tokens?.token).toEqual(expect.any(String));
  const linus = client(signedIn.tokens!.token);
  const { value } = await waitForValue(linus, api.workspaces.listMine, {}, () => true);
  expect(value).toEqual([]);
  await linus.action(api.auth.signOut, {});
  const refreshed = await anonymous.action(api.auth.signIn, { refreshToken: signedIn.tokens!.refreshToken });
  expect(refreshed.tokens ?? null).toBeNull();
});

async function freshWorkspace(slug: string) {
  const id = await httpClient(server, ada.token).mutation(api.workspaces.create, { slug, name: slug });
  return { workspaceId: id };
}
