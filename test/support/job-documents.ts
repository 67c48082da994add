/** Jobs inserted straight into the database, stored as enqueue would store them (for retention and storage tests). */
import type { Doc, Id } from "../../convex/_generated/dataModel";
import { requirementsKey } from "../../convex/model/matching";

export type StoredJobFields = Partial<Doc<"jobs">> & { status: Doc<"jobs">["status"] };

export function storedJob(workspaceId: Id<"workspaces">, repoId: Id<"repos">, fields: StoredJobFields, events = 1) {
  return {
    workspaceId,
    repoId,
    kind: "work" as const,
    role: "implementer",
    prompt: "Do the thing",
    requirements: {},
    requirementsKey: requirementsKey({}),
    priority: 0,
    lane: "worker" as const,
    attempts: 1,
    maxAttempts: 3,
    claimGeneration: 1,
    cancelRequested: false,
    nextEventSeq: events + 1,
    updatedAt: Date.now(),
    ...fields,
  };
}
