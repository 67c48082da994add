import { v } from "convex/values";
import { internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import type { Id } from "./_generated/dataModel";
import { callerValidator } from "./access";
import { apiError } from "./model/errors";
import {
  DEFAULT_TOKEN_TTL_MS,
  LAST_USED_RESOLUTION_MS,
  mintToken,
  sha256Hex,
} from "./model/tokens";

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
    const token = await ctx.db.get(tokenId);
    if (token !== null && (token.lastUsedAt ?? 0) <= now - LAST_USED_RESOLUTION_MS) {
      await ctx.db.patch(tokenId, { lastUsedAt: now });
    }
  },
});

/** `POST /v1/auth/token/revoke`: revokes the bearer token the request was made with. */
export const revokeOwnToken = internalMutation({
  args: { caller: callerValidator },
  handler: async (ctx, { caller }) => {
    if (caller.kind !== "token") {
      throw apiError(
        "INVALID_REQUEST",
        "Only minted tokens can be revoked here; the deployment service token is set in the environment.",
      );
    }
    const token = await ctx.db.get(caller.tokenId);
    if (token !== null && token.revokedAt === undefined) {
      await ctx.db.patch(caller.tokenId, { revokedAt: Date.now() });
    }
    return { revoked: true as const };
  },
});

/**
 * Mints a token and stores only its hash. The clear token is returned once, to be shown once.
 * Used by device approval and by Console-created workspace service tokens.
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
): Promise<{ token: string; tokenId: Id<"apiTokens"> }> {
  const { token, prefix } = mintToken();
  const { ttlMs = DEFAULT_TOKEN_TTL_MS, ...rest } = fields;
  const tokenId = await ctx.db.insert("apiTokens", {
    ...rest,
    tokenHash: await sha256Hex(token),
    prefix,
    expiresAt: Date.now() + ttlMs,
  });
  return { token, tokenId };
}
