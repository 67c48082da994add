/**
 * What live subscriptions cost local mode (`npm run bench`, section 3), with the official
 * `ConvexClient` over WebSockets and jobs enqueued over the worker HTTP API:
 *
 *   - the enqueue rate with no subscriptions;
 *   - with 100 distinct subscriptions (`jobsConsole:get` of 100 jobs on 10 sockets): every
 *     enqueue writes the jobs table, so every one of them is re-run after every commit;
 *   - with 100 sockets each showing the job list as `usePaginatedQuery` does (pages that split):
 *     identical subscriptions computed once per commit, and the time from an enqueue's answer
 *     until all 100 show the new job.
 */
import type { ConvexClient } from "convex/browser";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { eventually, httpClient, onPaginated, signUp, wsClient } from "../../test/support/convex-clients";
import type { LocalProcess } from "../../test/support/local-process";
import { apiClient, enqueueMany } from "./socket-workers";

export const SUBSCRIPTIONS = 100;
const STREAM = 200;
const SINGLES = 20;

type Row = [string, string];

export async function measureSubscriptions(server: LocalProcess): Promise<Row[]> {
  const session = await signUp(server, `bench-${Date.now()}@example.com`);
  const service = apiClient(server.apiUrl, server.serviceToken);
  let workspaces = 0;
  const workspace = async () => {
    const slug = `bench-sync-${++workspaces}-${Date.now() % 1_000_000}`;
    const workspaceId = await httpClient(server, session.token).mutation(api.workspaces.create, { slug, name: slug });
    const { repoId } = await service("/v1/repos/upsert", { workspaceId, remoteUrlHash: slug, status: "active" });
    return { workspaceId, repoId: repoId as string };
  };
  const enqueueRate = async (workspaceId: string, repoId: string) => {
    const started = performance.now();
    await enqueueMany(service, workspaceId, repoId, STREAM, 8);
    return (STREAM / ((performance.now() - started) / 1000)).toFixed(1);
  };
  const clients: ConvexClient[] = [];
  const open = () => {
    const client = wsClient(server, session.token);
    clients.push(client);
    return client;
  };
  const rows: Row[] = [];
  try {
    const quiet = await workspace();
    rows.push([
      `no subscriptions: enqueues per second (${STREAM}, 8 in parallel)`,
      await enqueueRate(quiet.workspaceId, quiet.repoId),
    ]);

    const busy = await workspace();
    const jobIds = await enqueueMany(service, busy.workspaceId, busy.repoId, SUBSCRIPTIONS, 8);
    const seen = new Set<number>();
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const client = i % 10 === 0 ? open() : clients.at(-1)!;
      const args = { workspaceId: busy.workspaceId, jobId: jobIds[i] as Id<"jobs"> };
      client.onUpdate(api.jobsConsole.get, args, () => void seen.add(i));
    }
    await eventually(() => seen.size === SUBSCRIPTIONS, 60_000, "first results");
    rows.push([
      `${SUBSCRIPTIONS} distinct subscriptions, 10 sockets: enqueues per second`,
      await enqueueRate(busy.workspaceId, busy.repoId),
    ]);
    await Promise.all(clients.splice(0).map((client) => client.close()));

    const live = await workspace();
    const newest: Array<string | undefined> = new Array(SUBSCRIPTIONS).fill(undefined);
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      onPaginated(open(), api.jobsConsole.list, { workspaceId: live.workspaceId }, 10, ({ results, status }) => {
        if (status !== "LoadingFirstPage") newest[i] = results[0]?._id ?? "";
      });
    }
    await eventually(() => newest.every((id) => id !== undefined), 60_000, "first results");
    rows.push([
      `${SUBSCRIPTIONS} sockets, paginated job list: enqueues per second`,
      await enqueueRate(live.workspaceId, live.repoId),
    ]);
    const latencies: number[] = [];
    for (let i = 0; i < SINGLES; i++) {
      const body = { workspaceId: live.workspaceId, repoId: live.repoId, kind: "work", prompt: `single ${i}` };
      const { jobId } = await service("/v1/jobs/enqueue", body);
      const answered = performance.now();
      await eventually(() => newest.every((id) => id === jobId), 30_000, "every subscription updated");
      latencies.push(performance.now() - answered);
    }
    latencies.sort((a, b) => a - b);
    rows.push([
      `${SUBSCRIPTIONS} sockets: enqueue answered → all show it, median ms`,
      latencies[SINGLES >> 1]!.toFixed(1),
    ]);
    rows.push([`${SUBSCRIPTIONS} sockets: enqueue answered → all show it, max ms`, latencies.at(-1)!.toFixed(1)]);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  return rows;
}
