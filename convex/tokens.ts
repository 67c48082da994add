import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import type { Doc, Id } from "./_generated/dataModel";
import { auditActorOf, recordAudit } from "./audit";
import { callerInternalMutation, userMutation, userQuery, workspaceMutation, workspaceQuery } from "./functions";
import type { AuditActor } from "./model/audit";
import { apiError } from "./model/errors";
import { DEFAULT_TOKEN_TTL_MS, LAST_USED_RESOLUTION_MS, mintToken, sha256Hex } from "./model/tokens";
import { sweepBatch } from "./sweeps";

/**
 * Looks up a minted token by its SHA-256 hash. Called by the endpoint wrapper on every bearer
 * request that is not the env service token. Returns a failure code instead of throwing so the
 * wrapper can answer the right 401 without a stack of try/catch.
 */
export const authenticate = internalQuery({
  args: { tokenHash: v.string(), now: v.number() },
  handler: async (ctx, { tokenHash, now }) => {
    const token = await ctx.db
      .query("apiTokens")
      .withIndex("by_hash", (q) => q.eq("tokenHash", tokenHash))
      .unique();
    if (token === null) return { ok: false as const, code: "INVALID_TOKEN" as const, message: "Unknown token." };
    if (token.revokedAt !== undefined) {
      return { ok: false as const, code: "INVALID_TOKEN" as const, message: "This token has been revoked." };
    }
    if (token.expiresAt <= now) {
      return { ok: false as const, code: "EXPIRED_TOKEN" as const, message: "This token has expired." };
    }
    return {
      ok: true as const,
      caller: {
        kind: "token" as const,
        tokenId: token._id,
        tokenKind: token.kind,
        workspaceId: token.workspaceId,
        ...(token.userId === undefined ? {} : { userId: token.userId }),
      },
      lastUsedStale: (token.lastUsedAt ?? 0) <= now - LAST_USED_RESOLUTION_MS,
    };
  },
});

/** Refreshes `lastUsedAt`; the wrapper calls it only when the stored value is a minute old. */
export const touchLastUsed = internalMutation({
  args: { tokenId: v.id("apiTokens"), now: v.number() },
  handler: async (ctx, { tokenId, now }) => {
    const token = await ctx.db.get("apiTokens", tokenId);
    if (token !== null && (token.lastUsedAt ?? 0) <= now - LAST_USED_RESOLUTION_MS) {
      await ctx.db.patch("apiTokens", tokenId, { lastUsedAt: now });
    }
  },
});

/** `POST /v1/auth/token/revoke`: revokes the bearer token the request was made with. */
export const revokeOwnToken = callerInternalMutation({
  args: {},
  handler: async (ctx) => {
    const { caller } = ctx;
    if (caller.kind !== "token") {
      throw apiError(
        "INVALID_REQUEST",
        "Only minted tokens can be revoked here; the deployment service token is set in the environment.",
      );
    }
    const token = await ctx.db.get("apiTokens", caller.tokenId);
    if (token !== null) await revokeToken(ctx, token, auditActorOf(caller), "logout");
    return { revoked: true as const };
  },
});

/**
 * Mints a token and stores only its hash. The clear token is returned once, to be shown once.
 * Used by device login (deviceSessions.poll) and by Console-created workspace service tokens;
 * each caller records the `token.created` audit event with its own actor.
 */
export async function insertToken(
  ctx: MutationCtx,
  fields: {
    kind: "device" | "service";
    workspaceId: Id<"workspaces">;
    userId?: Id<"users">;
    label: string;
    ttlMs?: number;
  },
): Promise<{ token: string; tokenId: Id<"apiTokens">; prefix: string; expiresAt: number }> {
  const { token, prefix } = mintToken();
  const { ttlMs = DEFAULT_TOKEN_TTL_MS, ...rest } = fields;
  const expiresAt = Date.now() + ttlMs;
  const tokenId = await ctx.db.insert("apiTokens", { ...rest, tokenHash: await sha256Hex(token), prefix, expiresAt });
  return { token, tokenId, prefix, expiresAt };
}

/** Revokes a token (no-op when already revoked) and records who did it and why. */
export async function revokeToken(ctx: MutationCtx, token: Doc<"apiTokens">, actor: AuditActor, reason: string) {
  if (token.revokedAt !== undefined) return;
  await ctx.db.patch("apiTokens", token._id, { revokedAt: Date.now() });
  await recordAudit(ctx, {
    workspaceId: token.workspaceId,
    action: "token.revoked",
    actor,
    ...(token.userId === undefined ? {} : { targetUserId: token.userId }),
    tokenId: token._id,
    details: { kind: token.kind, label: token.label, prefix: token.prefix, reason },
  });
}

/**
 * How many of a user's tokens in one workspace `revokeLiveTokensOf` revokes at most: one token per
 * device login, each living 90 days, so far more than anyone holds. The index reads only the
 * unrevoked, unexpired ones, however many revoked or expired tokens the user has piled up.
 */
const LIVE_TOKENS_PER_MEMBER_LIMIT = 1_000;

/** Revokes a user's live tokens of one workspace (a member was removed); returns how many. */
export async function revokeLiveTokensOf(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  userId: Id<"users">,
  actor: AuditActor,
  reason: string,
): Promise<number> {
  const live = await ctx.db
    .query("apiTokens")
    .withIndex("by_user_workspace_revoked_expires", (q) =>
      q.eq("userId", userId).eq("workspaceId", workspaceId).eq("revokedAt", undefined).gt("expiresAt", Date.now()),
    )
    .take(LIVE_TOKENS_PER_MEMBER_LIMIT);
  for (const token of live) await revokeToken(ctx, token, actor, reason);
  return live.length;
}

// ---- Console ---------------------------------------------------------------------------------

const CONSOLE_LIST_LIMIT = 200;

/** A token as the Console lists it: never its value or hash. */
/** Status from stored fields only (`expired` is written by the cron), so a subscription stays right. */
function tokenSummary(token: Doc<"apiTokens">) {
  const status = token.revokedAt !== undefined ? "revoked" : token.expired ? "expired" : "active";
  return {
    tokenId: token._id,
    kind: token.kind,
    workspaceId: token.workspaceId,
    prefix: token.prefix,
    label: token.label,
    createdAt: token._creationTime,
    lastUsedAt: token.lastUsedAt ?? null,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt ?? null,
    status,
  };
}

/** The signed-in user's device tokens in every workspace, newest first. */
export const listMine = userQuery({
  args: {},
  handler: async (ctx) => {
    const tokens = await ctx.db
      .query("apiTokens")
      .withIndex("by_user", (q) => q.eq("userId", ctx.userId))
      .order("desc")
      .take(CONSOLE_LIST_LIMIT);
    return tokens.map(tokenSummary);
  },
});

/** Revokes one of the signed-in user's tokens; anyone else's looks missing. */
export const revokeMine = userMutation({
  args: { tokenId: v.id("apiTokens") },
  handler: async (ctx, { tokenId }) => {
    const token = await ctx.db.get("apiTokens", tokenId);
    if (token === null || token.userId !== ctx.userId)
      throw apiError("TOKEN_NOT_FOUND", "You have no token with this id.");
    await revokeToken(ctx, token, { kind: "user", userId: ctx.userId }, "revoked_in_console");
    return null;
  },
});

const MAX_SERVICE_TOKEN_DAYS = 3_650;

/**
 * Admins: a workspace service token (CI, automation) acting as admin of this workspace only,
 * the per-workspace alternative to the deployment-wide env token. The value is returned once.
 */
export const createServiceToken = workspaceMutation({
  minRole: "admin",
  args: { label: v.string(), expiresInDays: v.optional(v.number()) },
  handler: async (ctx, { label: rawLabel, expiresInDays }) => {
    const label = rawLabel.trim();
    if (label.length === 0 || label.length > 120) {
      throw apiError("INVALID_REQUEST", "label: must be 1–120 characters.", {
        issues: [{ path: "label", message: "must be 1–120 characters" }],
      });
    }
    const days = expiresInDays ?? DEFAULT_TOKEN_TTL_MS / 86_400_000;
    if (!Number.isInteger(days) || days < 1 || days > MAX_SERVICE_TOKEN_DAYS) {
      const message = `must be a whole number of days from 1 to ${MAX_SERVICE_TOKEN_DAYS}`;
      throw apiError("INVALID_REQUEST", `expiresInDays: ${message}.`, { issues: [{ path: "expiresInDays", message }] });
    }
    const workspaceId = ctx.workspace.workspaceId;
    const minted = await insertToken(ctx, { kind: "service", workspaceId, label, ttlMs: days * 86_400_000 });
    await recordAudit(ctx, {
      workspaceId,
      action: "token.created",
      actor: { kind: "user", userId: ctx.userId },
      tokenId: minted.tokenId,
      details: { kind: "service", label, prefix: minted.prefix },
    });
    return minted;
  },
});

/** Admins: the workspace's service tokens, newest first. */
export const listServiceTokens = workspaceQuery({
  minRole: "admin",
  args: {},
  handler: async (ctx) => {
    const tokens = await ctx.db
      .query("apiTokens")
      .withIndex("by_workspace_kind", (q) => q.eq("workspaceId", ctx.workspace.workspaceId).eq("kind", "service"))
      .order("desc")
      .take(CONSOLE_LIST_LIMIT);
    return tokens.map(tokenSummary);
  },
});

/** Admins: revokes a service token of this workspace. */
export const revokeServiceToken = workspaceMutation({
  minRole: "admin",
  args: { tokenId: v.id("apiTokens") },
  handler: async (ctx, { tokenId }) => {
    const token = await ctx.db.get("apiTokens", tokenId);
    if (token === null || token.kind !== "service" || token.workspaceId !== ctx.workspace.workspaceId) {
      throw apiError("TOKEN_NOT_FOUND", "This workspace has no service token with this id.");
    }
    await revokeToken(ctx, token, { kind: "user", userId: ctx.userId }, "revoked_in_console");
    return null;
  },
});

// ---- Cron ------------------------------------------------------------------------------------

const EXPIRY_BATCH = 500;

/** Cron: marks tokens whose `expiresAt` has passed as `expired` (for the Console lists). */
export const markExpiredTokens = internalMutation({
  args: {},
  handler: async (ctx): Promise<{ marked: number }> => {
    const expired = await ctx.db
      .query("apiTokens")
      .withIndex("by_expired_expires", (q) => q.eq("expired", undefined).lte("expiresAt", Date.now()))
      .take(EXPIRY_BATCH);
    const batch = { documents: expired, size: EXPIRY_BATCH, again: internal.tokens.markExpiredTokens };
    return { marked: await sweepBatch(ctx, batch, (token) => ctx.db.patch("apiTokens", token._id, { expired: true })) };
  },
});
