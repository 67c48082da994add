/**
 * What a job's command may do with its job token (`IAS_JOB_TOKEN`, minted by claim-next): the
 * token's check for the endpoint wrapper, and the `/v1/job/*` routes — log lines, an outcome
 * intent (`blocked` with a reason) and evidence, uncertainties and the milestone of the job's
 * run, children to spawn with the completion. Every call runs only while the job runs under the
 * token's claim (jobTokenInternalMutation); reports wait in jobReports.ts for the completion.
 */
import { v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalQuery, type QueryCtx } from "./_generated/server";
import { bodyArgs } from "./api/convexArgs";
import {
  MAX_PROPOSED_CHILDREN,
  jobChildrenRequest,
  jobLogRequest,
  jobMilestoneRequest,
  jobReportRequest,
  jobUncertaintyRequest,
} from "./api/requests/jobToken";
import { jobTokenInternalMutation } from "./functions";
import { changeReport, type ProposedChild } from "./jobReports";
import { appendLogLines } from "./leases";
import { apiError, type ErrorCode } from "./model/errors";
import { jobTokenProblem } from "./model/jobTokens";
import { secretsEqual } from "./model/tokens";
import { requireRepo } from "./repos";
import { requireRun, setRunMilestone } from "./runs";
import { createUncertainty } from "./uncertainties";

/**
 * Checks a job token for the endpoint wrapper (api/endpoint.ts): the job's stored hash matches
 * (compared in constant time) and the job still runs under that claim. A token of an earlier
 * claim no longer matches: its hash was replaced by the next claim's.
 */
export const authenticate = internalQuery({
  args: { jobId: v.string(), secretHash: v.string(), now: v.number() },
  handler: async (ctx, { jobId: rawJobId, secretHash, now }) => {
    const fail = (code: ErrorCode & ("INVALID_TOKEN" | "EXPIRED_TOKEN"), message: string) => ({
      ok: false as const,
      code,
      message,
    });
    const jobId = ctx.db.normalizeId("jobs", rawJobId);
    const job = jobId === null ? null : await ctx.db.get("jobs", jobId);
    if (job === null || job.jobTokenHash === undefined || !(await secretsEqual(secretHash, job.jobTokenHash))) {
      return fail("INVALID_TOKEN", "Unknown job token (or one of an earlier claim of its job).");
    }
    const problem = jobTokenProblem(job, job.claimGeneration, now);
    if (problem !== null) return fail("EXPIRED_TOKEN", problem);
    return {
      ok: true as const,
      caller: {
        kind: "job" as const,
        workspaceId: job.workspaceId,
        jobId: job._id,
        claimGeneration: job.claimGeneration,
      },
    };
  },
});

/** `POST /v1/job/log`: the command's own lines, on the job's timeline like the worker's. */
export const appendLog = jobTokenInternalMutation({
  args: bodyArgs(jobLogRequest),
  handler: async (ctx, lines) => ({ appended: await appendLogLines(ctx, ctx.job, lines) }),
});

/** `POST /v1/job/report`: the outcome the job asks for and evidence, merged into its completion. */
export const report = jobTokenInternalMutation({
  args: bodyArgs(jobReportRequest),
  handler: async (ctx, { outcome, reason, evidence }) => {
    const stored = await changeReport(ctx, ctx.job, (current) => ({
      ...(outcome === "blocked" ? { blockedReason: reason } : {}),
      ...(evidence === undefined ? {} : { evidence: { ...current?.evidence, ...evidence } }),
    }));
    return {
      outcome: stored.blockedReason === undefined ? null : ("blocked" as const),
      reason: stored.blockedReason ?? null,
      evidence: stored.evidence ?? {},
    };
  },
});

async function runOfJob(ctx: QueryCtx, job: Doc<"jobs">): Promise<Doc<"runs">> {
  if (job.runId === undefined) {
    throw apiError("RUN_NOT_FOUND", "This job belongs to no run; uncertainties and milestones are a run's.");
  }
  return await requireRun(ctx, job.workspaceId, job.runId);
}

/**
 * `POST /v1/job/uncertainties/create`: an uncertainty of the job's run, raised by the job. A
 * promoted one's decision request is also recorded as the job's `decisionRequestId` evidence
 * (unless it reported one), so the job ending `blocked` blocks its run on that decision.
 */
export const createRunUncertainty = jobTokenInternalMutation({
  args: bodyArgs(jobUncertaintyRequest),
  handler: async (ctx, fields) => {
    const answer = await createUncertainty(ctx, await runOfJob(ctx, ctx.job), ctx.job._id, fields);
    const decisionRequestId = answer.decisionRequestId;
    if (decisionRequestId !== null) {
      await changeReport(ctx, ctx.job, (current) =>
        current?.evidence?.decisionRequestId !== undefined
          ? {}
          : { evidence: { ...current?.evidence, decisionRequestId } },
      );
    }
    return answer;
  },
});

/** `POST /v1/job/milestone`: the `currentMilestone` of the job's run (with its milestone history). */
export const setMilestone = jobTokenInternalMutation({
  args: bodyArgs(jobMilestoneRequest),
  handler: async (ctx, { milestone }) => {
    const run = await runOfJob(ctx, ctx.job);
    await setRunMilestone(ctx, run, milestone);
    return { runId: run._id };
  },
});

/**
 * `POST /v1/job/children`: children to enqueue with the job's completion (when it ends `done` or
 * `blocked`). Repo (default the job's) and run (default the job's) are checked now, so a bad
 * child is refused to the command that proposed it rather than at the worker's completion.
 */
export const proposeChildren = jobTokenInternalMutation({
  args: bodyArgs(jobChildrenRequest),
  handler: async (ctx, { children }) => {
    const { job } = ctx;
    const proposed: ProposedChild[] = [];
    for (const child of children) {
      const repo = await requireRepo(ctx, job.workspaceId, child.repoId ?? job.repoId);
      const runId = child.runId ?? job.runId;
      const run = runId === undefined ? undefined : await requireRun(ctx, job.workspaceId, runId);
      proposed.push({ ...child, repoId: repo._id, ...(run === undefined ? {} : { runId: run._id }) });
    }
    const stored = await changeReport(ctx, job, (current) => {
      // A child sent again under its idempotencyKey (a client retrying a lost answer) is proposed once.
      const keys = new Set((current?.children ?? []).map((child: ProposedChild) => child.idempotencyKey));
      const fresh = proposed.filter((child) => child.idempotencyKey === undefined || !keys.has(child.idempotencyKey));
      const before = current?.children.length ?? 0;
      if (before + fresh.length > MAX_PROPOSED_CHILDREN) {
        const message = `one claim may propose at most ${MAX_PROPOSED_CHILDREN} children; ${before} already are`;
        throw apiError("INVALID_REQUEST", `children: ${message}.`, { issues: [{ path: "children", message }] });
      }
      return { children: [...(current?.children ?? []), ...fresh] };
    });
    return { proposed: stored.children.length };
  },
});
