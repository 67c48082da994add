/**
 * The storage part of `npm run bench`: the bytes a job and its timeline occupy, as Convex counts
 * document sizes (numbers 9 bytes, strings 2 + UTF-8; index entries come on top), for the jobs
 * retention keeps for `finishedJobsDays`. Jobs are driven through the real HTTP routes in process.
 *
 *   short job: enqueue, claim, complete.
 *   hour-long job: an hour of heartbeats every 20 s with one message (coalesced into one event),
 *   a log batch of 10 lines of 100 characters every minute, complete with a message.
 */
import { convexTest } from "convex-test";
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { convexSize } from "../../convex/model/convexValues";
import schema from "../../convex/schema";
import { convexModuleMap } from "../local/modules";

const TOKEN = "ias_bench_service_token_0123456789abcdefghijklmnop";

export type StorageFigure = { name: string; jobBytes: number; events: number; eventBytes: number };

export async function measureJobStorage(): Promise<StorageFigure[]> {
  process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = TOKEN;
  const t = convexTest(schema, convexModuleMap());
  const call = async (route: string, body: object) => {
    const response = await t.fetch(`/control-plane${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as Record<string, any>;
    if (!answer.ok) throw new Error(`${route}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const { workspaceId } = await t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "bench" });
  const { repoId } = await call("/v1/repos/upsert", { workspaceId, remoteUrlHash: "a".repeat(64), status: "active" });
  const { workerId } = await call("/v1/workers/heartbeat", {
    workspaceId,
    displayName: "bench-worker",
    machineFingerprint: "f".repeat(64),
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  const prompt = "Implement the change described in the issue and keep the tests green. ".repeat(8);

  const runJob = async (minutes: number) => {
    const { jobId } = await call("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt });
    const { claimGeneration } = await call("/v1/jobs/claim-next", { workspaceId, workerId });
    const lease = { workspaceId, jobId, workerId, claimGeneration };
    for (let minute = 0; minute < minutes; minute++) {
      for (let beat = 0; beat < 3; beat++) await call("/v1/jobs/heartbeat", { ...lease, message: "running tests" });
      const lines = Array.from({ length: 10 }, (_, i) => `${minute}:${i} ${"x".repeat(95)}`);
      await call("/v1/jobs/log", { ...lease, lines });
    }
    await call("/v1/jobs/complete", { ...lease, outcome: "done", message: "Opened a pull request with the change." });
    return jobId as Id<"jobs">;
  };

  const figures: StorageFigure[] = [];
  for (const [name, minutes] of [
    ["short job (enqueue, claim, complete)", 0],
    ["hour-long job (180 heartbeats, 600 log lines)", 60],
  ] as const) {
    const jobId = await runJob(minutes);
    const { job, events } = await t.run(async (ctx) => ({
      job: (await ctx.db.get(jobId))!,
      events: await ctx.db
        .query("jobEvents")
        .withIndex("by_job_seq", (q) => q.eq("jobId", jobId))
        .take(10_000),
    }));
    figures.push({
      name,
      jobBytes: convexSize(job),
      events: events.length,
      eventBytes: events.reduce((sum, event) => sum + convexSize(event), 0),
    });
  }
  return figures;
}
