// @vitest-environment node
/**
 * Local mode and retention (SPEC §6): what the retention sweep deletes is gone from disk once the
 * journal is compacted (the snapshot holds only live documents and the older segments are
 * removed), and stays gone after a restart.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { internal } from "../../convex/_generated/api";
import { storedJob } from "../support/job-documents";
import { openEngine } from "../support/local-engine";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

const DAY = 86_400_000;

const everythingOnDisk = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith(".jsonl"))
    .map((name) => readFileSync(join(dir, name), "utf8"))
    .join("\n");

test("deleted jobs and events leave the data directory at the next compaction", async () => {
  const dir = makeTempDir();
  const { engine, store } = await openEngine(dir);
  const { workspaceId } = await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
  const [expiredJob, youngJob] = await engine.t.run(async (ctx) => {
    const repoId = await ctx.db.insert("repos", { workspaceId, remoteUrlHash: "h", status: "active", updatedAt: 0 });
    const job = (finishedAt: number, prompt: string) =>
      ctx.db.insert(
        "jobs",
        storedJob(workspaceId, repoId, { status: "done", outcome: "done", finishedAt, prompt, updatedAt: finishedAt }),
      );
    const ids = [
      await job(Date.now() - 31 * DAY, "expired-prompt-marker"),
      await job(Date.now() - DAY, "young-prompt"),
    ];
    for (const jobId of ids) {
      await ctx.db.insert("jobEvents", {
        workspaceId,
        jobId,
        seq: 1,
        type: "log",
        at: 0,
        data: { lines: [`event-of-${jobId}`] },
      });
    }
    return ids;
  });
  await store.durable();
  expect(everythingOnDisk(dir)).toContain("expired-prompt-marker");

  const swept = await engine.t.mutation(internal.retention.sweepWorkspace, { workspaceId });
  expect(swept.deleted.jobs).toBe(1);
  await store.durable();
  await store.compact();
  const onDisk = everythingOnDisk(dir);
  expect(onDisk).not.toContain("expired-prompt-marker");
  expect(onDisk).not.toContain(`event-of-${expiredJob}`);
  expect(onDisk).toContain("young-prompt");
  expect(onDisk).toContain(`event-of-${youngJob}`);
  await store.close();

  const reopened = await openEngine(dir);
  const left = await reopened.engine.t.run(async (ctx) => [await ctx.db.get(expiredJob!), await ctx.db.get(youngJob!)]);
  expect(left.map((job) => job?.prompt ?? null)).toEqual([null, "young-prompt"]);
  await reopened.store.close();
});
