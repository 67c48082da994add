import { v } from "convex/values";

/** Run (goal) statuses, SPEC §7. */
export const RUN_STATUSES = ["queued", "in_progress", "blocked", "done", "failed", "canceled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const runStatusValidator = v.union(...RUN_STATUSES.map((status) => v.literal(status)));

/** Statuses a run ends in (`run.finished` webhooks fire on entering one). */
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ["done", "failed", "canceled"];
