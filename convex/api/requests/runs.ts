/**
 * The fields of the run routes, declared once: routes/runs.ts validates with them, runs.ts derives
 * its internal functions' `args` from them (api/convexArgs.ts).
 */
import { z } from "zod";
import { RUN_STATUSES } from "../../model/runs";
import { idOf } from "../schemas";

/** Optional run fields: a value sets the field, `null` clears it, leaving it out keeps it. */
const runFields = {
  currentMilestone: z.string().min(1).max(200).nullable().optional(),
  runStatePath: z.string().min(1).max(1024).nullable().optional(),
  blockedByDecisionRequestId: idOf("decisionRequests").nullable().optional(),
};

export const upsertRunByRefRequest = z.object({
  workspaceId: idOf("workspaces"),
  repoId: idOf("repos"),
  runRef: z.string().min(1).max(200),
  status: z.enum(RUN_STATUSES),
  ...runFields,
  goal: z.string().min(1).max(8_000).nullable().optional(),
});

export const runRequest = z.object({ workspaceId: idOf("workspaces"), runId: idOf("runs") });

export const updateRunRequest = z.object({
  workspaceId: idOf("workspaces"),
  runId: idOf("runs"),
  status: z.enum(RUN_STATUSES).optional(),
  ...runFields,
});
