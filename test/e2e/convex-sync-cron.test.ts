// @vitest-environment node
/**
 * A subscription follows a commit made by a cron: a claimed job whose recovery timer is gone
 * (canceled in the stopped server's journal, as if lost) is recovered only by the lease-sweep
 * cron of `convex/crons.ts`, and a Console subscribed to the job sees it go back to pending.
 */
import { afterAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { openJournalStore } from "../../scripts/local/store";
import { apiClient } from "../../scripts/bench/socket-workers";
import { httpClient, PASSWORD, signUp, waitForValue, wsClient } from "../support/convex-clients";
import { localServerPool, removeTempDirs } from "../support/local-process";

const servers = localServerPool();
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

/** Marks the pending recovery timers of the stopped server's journal canceled; answers how many. */
function cancelRecoveryTimers(dataDir: string): number {
  const store = openJournalStore(dataDir);
  const timers = [...store.state.documents.values()].filter(
    (row) =>
      String(row._id).endsWith("_scheduled_functions") &&
      row.name === "recovery:recoverIfLeaseExpired" &&
      (row.state as { kind: string }).kind === "pending",
  );
  store.append({
    writes: timers.map((row) => [String(row._id), { ...row, state: { kind: "canceled" } }]),
    nextDocId: store.state.nextDocId,
    lastCreationTime: store.state.lastCreationTime,
  });
  store.close();
  return timers.length;
}

test("a subscription updates when the cron recovers an expired lease", async () => {
  const first = await servers.start();
  const ada = await signUp(first, "ada@example.com");
  const workspaceId = await httpClient(first, ada.token).mutation(api.workspaces.create, { slug: "lab", name: "Lab" });
  const service = apiClient(first.apiUrl, first.serviceToken);
  const { repoId } = await service("/v1/repos/upsert", { workspaceId, remoteUrlHash: "lab", status: "active" });
  const { jobId } = await service("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "abandoned" });
  const { workerId } = await service("/v1/workers/heartbeat", {
    workspaceId,
    displayName: "vanishing",
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  const claim = await service("/v1/jobs/claim-next", { workspaceId, workerId, leaseMs: 15_000 });
  expect(claim.jobId).toBe(jobId);
  await first.stop();
  expect(cancelRecoveryTimers(first.dataDir)).toBe(1);

  const second = await servers.start({ cwd: first.cwd, dataDir: first.dataDir, serviceToken: first.serviceToken });
  const signedIn = await httpClient(second).action(api.auth.signIn, {
    provider: "password",
    params: { email: ada.email, password: PASSWORD, flow: "signIn" },
  });
  const client = wsClient(second, signedIn.tokens!.token);
  try {
    const args = { workspaceId, jobId: jobId as Id<"jobs"> };
    const { values } = await waitForValue(
      client,
      api.jobsConsole.get,
      args,
      (view) => view?.job.status === "pending",
      40_000,
    );
    expect(values[0]!.job.status).toBe("running");
    const recovered = values.at(-1)!.events.find((event) => event.type === "recovered");
    expect(recovered).toBeDefined();
    // Only the 5 s sweep could have done it: the job's own timer was canceled.
    expect(recovered!.at).toBeGreaterThanOrEqual(claim.leaseExpiresAt);
  } finally {
    await client.close();
  }
}, 90_000);
