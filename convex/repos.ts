/**
 * Repositories (SPEC §4 repo routes). Owns `repos`. Internal functions serve the HTTP layer;
 * `requireRepo` is how other domains turn a client's repo id into a repo of the workspace.
 */
import { paginationOptsValidator } from "convex/server";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { requireId } from "./access";
import { requestArgs } from "./api/convexArgs";
import { repoRequest, resolveRepoRequest, upsertRepoRequest } from "./api/requests/workers";
import { workspaceInternalMutation, workspaceInternalQuery, workspaceQuery } from "./functions";
import { apiError } from "./model/errors";
import { boundedPage } from "./model/pages";

/** The repo `rawRepoId` names in this workspace; another workspace's repo answers like a missing one. */
export async function requireRepo(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  rawRepoId: string,
  path = "repoId",
): Promise<Doc<"repos">> {
  const repo = await ctx.db.get("repos", requireId(ctx, "repos", rawRepoId, path));
  if (repo === null || repo.workspaceId !== workspaceId) {
    throw apiError("REPO_NOT_FOUND", `${path}: no repo with this id in this workspace.`);
  }
  return repo;
}

async function findByHash(ctx: QueryCtx, workspaceId: Id<"workspaces">, remoteUrlHash: string) {
  return await ctx.db
    .query("repos")
    .withIndex("by_workspace_hash", (q) => q.eq("workspaceId", workspaceId).eq("remoteUrlHash", remoteUrlHash))
    .first();
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/repos/resolve`: the repo with this remote URL hash, or nulls. */
export const resolve = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(resolveRepoRequest),
  handler: async (ctx, { remoteUrlHash }) => {
    const repo = await findByHash(ctx, ctx.access.workspaceId, remoteUrlHash);
    return { repoId: repo?._id ?? null, repo };
  },
});

/** `POST /v1/repos/get`: null for a missing repo or one of another workspace. */
export const get = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(repoRequest),
  handler: async (ctx, { repoId }) => {
    const { workspaceId } = ctx.access;
    const repo = await ctx.db.get("repos", requireId(ctx, "repos", repoId, "repoId"));
    return { repo: repo !== null && repo.workspaceId === workspaceId ? repo : null };
  },
});

/** `POST /v1/repos/upsert`: keyed by (workspace, remoteUrlHash); `created` says which happened. */
export const upsert = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(upsertRepoRequest),
  handler: async (ctx, { remoteUrlHash, label, status }) => {
    const { workspaceId } = ctx.access;
    const existing = await findByHash(ctx, workspaceId, remoteUrlHash);
    const now = Date.now();
    if (existing !== null) {
      await ctx.db.patch("repos", existing._id, { status, updatedAt: now, ...(label === undefined ? {} : { label }) });
      return { repoId: existing._id, created: false };
    }
    const repoId = await ctx.db.insert("repos", { workspaceId, remoteUrlHash, label, status, updatedAt: now });
    return { repoId, created: true };
  },
});

// ---- Console ---------------------------------------------------------------------------------

/** The workspace's repos (ordered by remote URL hash). */
export const list = workspaceQuery({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    return await ctx.db
      .query("repos")
      .withIndex("by_workspace_hash", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .paginate(boundedPage(paginationOpts));
  },
});
