/**
 * Fills a local-mode data directory with jobs the way the server would store them: the real
 * engine and journal in process, `enqueueJob` for pending jobs (one repo, one stream, as one
 * developer's queue). Used by `npm run bench` for the
 * restart figures; the result is compacted, so the next start reads one snapshot.
 */
import type { Id } from "../../convex/_generated/dataModel";
import { internal } from "../../convex/_generated/api";
import { enqueueJob } from "../../convex/jobs";
import { createEngine } from "../local/engine";
import { convexModuleMap } from "../local/modules";
import { prepareDataDir } from "../local/data-dir";
import { openJournalStore } from "../local/store";

export type SeedCounts = { pending: number };

const BATCH = 500;

/** Seeds `dir` (created if needed) and returns when every write is on disk. */
export async function seedDataDir(dir: string, counts: SeedCounts): Promise<void> {
  prepareDataDir(dir);
  const store = openJournalStore(dir);
  const engine = await createEngine({
    modules: convexModuleMap(),
    store,
    onFatal: (error) => {
      throw error;
    },
  });
  const { workspaceId } = await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
  const repoId = await engine.t.run((ctx) =>
    ctx.db.insert("repos", {
      workspaceId: workspaceId as Id<"workspaces">,
      remoteUrlHash: "seeded",
      status: "active",
      updatedAt: Date.now(),
    }),
  );
  for (let start = 0; start < counts.pending; start += BATCH) {
    await engine.t.run(async (ctx) => {
      for (let i = start; i < Math.min(start + BATCH, counts.pending); i++) {
        await enqueueJob(ctx, {
          workspaceId: workspaceId as Id<"workspaces">,
          repoId,
          kind: "work",
          prompt: `Seeded pending job ${i}: implement the change described in the issue.`,
        });
      }
    });
  }
  await engine.durable();
  await store.compact();
  await store.close();
}
