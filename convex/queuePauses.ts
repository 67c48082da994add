/**
 * Pause and resume (SPEC §6 "Pause"). Owns `queuePauses`: per (workspace, lane), whether the lane
 * is paused and which repos are. claim-next reads it once (`pausedFor`) and leaves paused repos
 * out of the worker's allowlist before it looks in the claim directory, so paused jobs are never
 * handed out and the directory (queue.ts) is untouched; enqueue still works. Admins and service
 * tokens over HTTP (`/v1/queues/pause|resume`), admins in the Console.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import type { AuditActor } from "./model/audit";
import { requestArgs } from "./api/convexArgs";
import { queuePauseRequest } from "./api/requests/queues";
import { recordAudit } from "./audit";
import { workspaceInternalMutation, workspaceMutation, workspaceQuery } from "./functions";
import { apiError } from "./model/errors";
import { LANES, laneValidator, type Lane } from "./model/jobs";
import { requireRepo } from "./repos";
import type { Caller } from "./access";

/** Repos one lane may have paused at once (the document stays small: claim-next reads it). */
export const MAX_PAUSED_REPOS = 1_000;

export async function pauseOf(ctx: QueryCtx, workspaceId: Id<"workspaces">, lane: Lane) {
  return await ctx.db
    .query("queuePauses")
    .withIndex("by_workspace_lane", (q) => q.eq("workspaceId", workspaceId).eq("lane", lane))
    .unique();
}

/** What claim-next must leave out in this lane: everything, or these repos. One read. */
export async function pausedFor(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  lane: Lane,
): Promise<{ lanePaused: boolean; pausedRepoIds: ReadonlySet<string> }> {
  const pause = await pauseOf(ctx, workspaceId, lane);
  return { lanePaused: pause?.lanePaused === true, pausedRepoIds: new Set(pause?.pausedRepoIds ?? []) };
}

type Change = { lane?: Lane; repoId?: string; paused: boolean };

/** Pauses or resumes a lane (every lane when none is named) or one repo in it; returns the lanes' states. */
async function changePause(ctx: MutationCtx, workspaceId: Id<"workspaces">, change: Change, actor: AuditActor) {
  const repoId = change.repoId === undefined ? undefined : (await requireRepo(ctx, workspaceId, change.repoId))._id;
  const lanes = change.lane === undefined ? LANES : [change.lane];
  const states: Array<{ lane: Lane; lanePaused: boolean; pausedRepoIds: Id<"repos">[] }> = [];
  for (const lane of lanes) {
    const stored = await pauseOf(ctx, workspaceId, lane);
    const next = nextState(stored, change.paused, repoId);
    if (next.pausedRepoIds.length > MAX_PAUSED_REPOS) {
      throw apiError("INVALID_REQUEST", `repoId: at most ${MAX_PAUSED_REPOS} repos may be paused in one lane.`);
    }
    if (stored === null) await ctx.db.insert("queuePauses", { workspaceId, lane, ...next });
    else await ctx.db.patch("queuePauses", stored._id, next);
    states.push({ lane, ...next });
  }
  await recordAudit(ctx, {
    workspaceId,
    action: change.paused ? "queue.paused" : "queue.resumed",
    actor,
    details: { lane: change.lane ?? "all", repoId: repoId ?? null },
  });
  return { queues: states };
}

function nextState(stored: Doc<"queuePauses"> | null, paused: boolean, repoId: Id<"repos"> | undefined) {
  const lanePaused = stored?.lanePaused === true;
  const repos = stored?.pausedRepoIds ?? [];
  if (repoId === undefined) return { lanePaused: paused, pausedRepoIds: repos };
  const others = repos.filter((id) => id !== repoId);
  return { lanePaused, pausedRepoIds: paused ? [...others, repoId] : others };
}

function actorOf(caller: Caller): AuditActor {
  if (caller.kind === "token") return { kind: "token", tokenId: caller.tokenId, userId: caller.userId };
  return { kind: caller.kind };
}

const pauseHandler = (paused: boolean) =>
  workspaceInternalMutation({
    minRole: "admin",
    args: requestArgs(queuePauseRequest),
    handler: async (ctx, { lane, repoId }) =>
      await changePause(ctx, ctx.access.workspaceId, { lane, repoId, paused }, actorOf(ctx.caller)),
  });

/** `POST /v1/queues/pause`. */
export const pause = pauseHandler(true);
/** `POST /v1/queues/resume`. */
export const resume = pauseHandler(false);

const consoleArgs = { lane: v.optional(laneValidator), repoId: v.optional(v.id("repos")) };

/** Console (admins). */
export const pauseQueue = workspaceMutation({
  minRole: "admin",
  args: consoleArgs,
  handler: async (ctx, args) =>
    await changePause(ctx, ctx.workspace.workspaceId, { ...args, paused: true }, { kind: "user", userId: ctx.userId }),
});

export const resumeQueue = workspaceMutation({
  minRole: "admin",
  args: consoleArgs,
  handler: async (ctx, args) =>
    await changePause(ctx, ctx.workspace.workspaceId, { ...args, paused: false }, { kind: "user", userId: ctx.userId }),
});

/** Console: the pause state of each lane. */
export const status = workspaceQuery({
  args: {},
  handler: async (ctx) =>
    await Promise.all(
      LANES.map(async (lane) => {
        const pause = await pauseOf(ctx, ctx.workspace.workspaceId, lane);
        return { lane, lanePaused: pause?.lanePaused === true, pausedRepoIds: pause?.pausedRepoIds ?? [] };
      }),
    ),
});
