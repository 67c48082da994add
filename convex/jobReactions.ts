/**
 * What other domains do when a job moves (SPEC §6), registered here as function references so the
 * job queue imports none of them (they import the queue: decisions enqueue `apply_decision` jobs).
 * `moveJob` (jobState.ts) runs each reaction whose `when` holds with `ctx.runMutation`: a nested
 * mutation, so its writes commit or roll back with the move, after the transaction's batch of job
 * changes (a reaction may itself enqueue). References, not imports, are what make
 * registration reliable in Convex: every function's module graph is loaded on its own, so a
 * reaction registered by a module's side effect would silently not run where that module is not
 * imported. Keep `when` cheap and exact: it runs on every move, inside worker calls whose reads are
 * budgeted (complete ≤ 8 documents), and a nested call costs a function invocation.
 */
import type { FunctionReference } from "convex/server";
import type { ObjectType } from "convex/values";
import { doc } from "convex-helpers/validators";
import { internal } from "./_generated/api";
import schema from "./schema";
import { jobMayAffectDecisions } from "./model/decisions";
import { isFinished, jobStatusValidator } from "./model/jobs";

/** The arguments of every reaction: the job as the move left it, and the status it left. */
export const jobMovedArgs = { job: doc(schema, "jobs"), from: jobStatusValidator };
export type JobMoved = ObjectType<typeof jobMovedArgs>;

export type JobReaction = {
  /** Who reacts and to what, for logs and docs. */
  name: string;
  when: (move: JobMoved) => boolean;
  run: FunctionReference<"mutation", "internal", JobMoved, null>;
};

export const JOB_REACTIONS: readonly JobReaction[] = [
  {
    name: "decisions: an apply_decision job done applies its decision; a job blocked on one blocks its run",
    when: ({ job }) => jobMayAffectDecisions(job),
    run: internal.decisions.onJobFinished,
  },
  {
    name: "webhooks: a finished job announces job.finished (and job.failed) to the workspace's endpoints",
    when: ({ job }) => isFinished(job.status),
    run: internal.webhookEvents.onJobFinished,
  },
];
