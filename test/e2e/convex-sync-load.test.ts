// @vitest-environment node
/**
 * Many live Consoles at once: 50 `ConvexClient`s (one WebSocket each) subscribed to the job list
 * while 500 jobs are enqueued over the worker HTTP API. Every client must end on all 500 (the
 * first page of a paginated list grows in place, so its length is the count), and the server
 * must still answer afterwards. Speed is measured in `npm run bench`, not here.
 */
import type { ConvexClient } from "convex/browser";
import { expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { apiClient, enqueueMany } from "../../scripts/bench/socket-workers";
import { eventually, httpClient, onPaginated, signUp, wsClient } from "../support/convex-clients";
import { serverPerFile } from "../support/server-per-file";

const CLIENTS = 50;
const JOBS = 500;
const localServer = serverPerFile();

test(`${CLIENTS} subscribed clients keep up with ${JOBS} enqueues: every one sees the final count`, async () => {
  const server = localServer();
  const ada = await signUp(server, "ada@example.com");
  const workspaceId = await httpClient(server, ada.token).mutation(api.workspaces.create, {
    slug: "busy",
    name: "Busy",
  });
  const service = apiClient(server.apiUrl, server.serviceToken);
  const { repoId } = await service("/v1/repos/upsert", { workspaceId, remoteUrlHash: "busy", status: "active" });

  const clients: ConvexClient[] = [];
  const counts = new Array<number>(CLIENTS).fill(-1);
  const updates = new Array<number>(CLIENTS).fill(0);
  for (let i = 0; i < CLIENTS; i++) {
    const client = wsClient(server, ada.token);
    clients.push(client);
    // As usePaginatedQuery does: pages split as they grow, so each update carries a page, not the list.
    onPaginated(client, api.jobsConsole.list, { workspaceId }, 10, ({ results, status }) => {
      counts[i] = status === "LoadingFirstPage" ? -1 : results.length;
      updates[i]! += 1;
    });
  }
  try {
    await eventually(() => counts.every((count) => count === 0), 60_000, "every client's first (empty) result");
    const ids = await enqueueMany(service, workspaceId, repoId, JOBS, 8);
    expect(new Set(ids).size).toBe(JOBS);
    await eventually(() => counts.every((count) => count === JOBS), 90_000, `every client at ${JOBS}`);
    // Updates were coalesced (not one per commit), but each client saw the list move more than once.
    expect(Math.min(...updates)).toBeGreaterThan(1);
    const lastPage = await httpClient(server, ada.token).query(api.jobsConsole.list, {
      workspaceId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(lastPage.page).toHaveLength(10);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}, 180_000);
