/**
 * What a job's command reported during one claim, through its job token (SPEC §7 decision flow):
 * a `blocked` reason, evidence and the children it proposes. Owns `jobReports`: written by
 * jobToken.ts (the `/v1/job/*` routes), read by the worker's completion (leases.ts), which merges
 * the report in (model/jobTokens.ts `mergeReport`) and spawns the children in its transaction.
 */
import type { Doc } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import type { EnqueueFields } from "./jobs";
import { oversizedDocumentProblem } from "./model/convexValues";
import { apiError } from "./model/errors";

/** A proposed child as stored: an enqueue body without `workspaceId`, its repo filled in. */
export type ProposedChild = Omit<EnqueueFields, "workspaceId" | "parentJobId">;

type ReportChange = Partial<Pick<Doc<"jobReports">, "blockedReason" | "evidence" | "children">>;

/** The report of the job's current claim, or null when its command reported nothing. One index read. */
export async function reportOf(ctx: QueryCtx, job: Doc<"jobs">): Promise<Doc<"jobReports"> | null> {
  return await ctx.db
    .query("jobReports")
    .withIndex("by_job_generation", (q) => q.eq("jobId", job._id).eq("claimGeneration", job.claimGeneration))
    .unique();
}

/**
 * Applies `change` to the report of the job's current claim (made on first use). The whole row
 * is measured first: what a deployment could not store is a 400, never a 500 from the write.
 */
export async function changeReport(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  change: (report: Doc<"jobReports"> | null) => ReportChange,
): Promise<Doc<"jobReports">> {
  const report = await reportOf(ctx, job);
  const patch = change(report);
  const fresh = { workspaceId: job.workspaceId, jobId: job._id, claimGeneration: job.claimGeneration, children: [] };
  const { _id: _ignored, _creationTime: _born, ...stored } = report ?? { _id: null, _creationTime: 0, ...fresh };
  const next = { ...stored, ...patch };
  const problem = oversizedDocumentProblem(next, Object.keys(patch));
  if (problem !== null) {
    throw apiError("INVALID_REQUEST", `${problem.path}: ${problem.message} (everything one claim reports)`, {
      issues: [{ path: problem.path, message: problem.message }],
    });
  }
  if (report === null) {
    const id = await ctx.db.insert("jobReports", next);
    return (await ctx.db.get("jobReports", id))!;
  }
  await ctx.db.patch("jobReports", report._id, patch);
  return { ...report, ...patch };
}
