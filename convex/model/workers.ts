/** Worker and repo vocabularies (SPEC §4, §6), listed once. */
import { v } from "convex/values";

export const WORKER_STATUSES = ["online", "offline", "draining"] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];
export const workerStatusValidator = v.union(...WORKER_STATUSES.map((status) => v.literal(status)));

/** Optional facts a worker reports about itself; stored as sent, shown in the Console. */
export const workerInventoryValidator = v.object({
  agentVersion: v.optional(v.string()),
  platform: v.optional(v.string()),
  arch: v.optional(v.string()),
  nodeVersion: v.optional(v.string()),
  configuredRepoIds: v.optional(v.array(v.string())),
  effectivePolicyVersion: v.optional(v.string()),
});

export const REPO_STATUSES = ["active", "archived"] as const;
export const repoStatusValidator = v.union(...REPO_STATUSES.map((status) => v.literal(status)));
