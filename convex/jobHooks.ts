/**
 * What other domains do when a job finishes. The job queue calls `onJobFinished` in the very
 * transaction that moves a job to `done`, `failed`, `blocked` or `canceled` — whether a worker
 * completed it, its lease ran out for the last time, or it was canceled while pending — so a
 * follower's change commits or rolls back with the job's. To react to finished jobs, add one
 * line here calling your domain's function; keep it cheap (it runs inside worker calls whose
 * reads are budgeted: complete ≤ 8 documents).
 */
import type { Doc } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import { onJobFinished as applyDecisionOnJobFinished } from "./decisions";
import { queueJobFinished } from "./webhookEvents";

export async function onJobFinished(ctx: MutationCtx, job: Doc<"jobs">): Promise<void> {
  // Decisions: an `apply_decision` job done marks its decision applied; `blocked` blocks the run.
  await applyDecisionOnJobFinished(ctx, job);
  // Outbound webhooks: `job.finished` (and `job.failed`) to the workspace's subscribed endpoints.
  await queueJobFinished(ctx, job);
}
