/**
 * Device login (SPEC §5). The CLI starts a session and polls it over HTTP (no bearer); a
 * signed-in member approves or denies it in the Console (or, in local mode, on the local
 * server's page as the local owner); the first poll after approval mints the device token and
 * hands it out, once. The clear device secret never enters this file: routes pass its hash.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, internalQuery, type MutationCtx, type QueryCtx } from "./_generated/server";
import { internal } from "./_generated/api";
import { membershipOf, ownersOf } from "./memberships";
import { recordAudit } from "./audit";
import { userMutation, userQuery } from "./functions";
import {
  approvalUrlFor,
  DEVICE_POLL_INTERVAL_MS,
  DEVICE_SESSION_RETENTION_MS,
  DEVICE_SESSION_TTL_MS,
  deviceStatusAt,
  generateUserCode,
  newDeviceId,
  type DeviceStatus,
} from "./model/deviceCodes";
import { apiError, refusal } from "./model/errors";
import { RATE_LIMITS } from "./model/rateLimits";
import { secretsEqual } from "./model/tokens";
import { takeRateLimits } from "./rateLimits";
import { insertToken } from "./tokens";
import { findBySlug, workspaceSummary } from "./workspaces";
import { sweepBatch } from "./sweeps";

const NOT_FOUND_MESSAGE = "No device login with this id and secret.";

async function sessionByDeviceId(ctx: QueryCtx, deviceId: string): Promise<Doc<"deviceSessions"> | null> {
  return await ctx.db
    .query("deviceSessions")
    .withIndex("by_device_id", (q) => q.eq("deviceId", deviceId))
    .unique();
}

function isLocalMode(): boolean {
  return process.env.IAS_LOCAL_MODE === "true";
}

// ---- HTTP layer (no bearer) ------------------------------------------------------------------

/**
 * `POST /v1/auth/device/start`. An unknown slug is refused before any bucket is touched, so a
 * flood of made-up slugs writes nothing; an existing slug takes its own bucket. Refusals are
 * returned, not thrown, so a take made before a later refusal commits.
 */
export const start = internalMutation({
  args: { workspaceSlug: v.string(), machineName: v.optional(v.string()), secretHash: v.string() },
  handler: async (ctx, { workspaceSlug, machineName, secretHash }) => {
    const workspace = await findBySlug(ctx, workspaceSlug);
    if (workspace === null) return refusal("WORKSPACE_NOT_FOUND", "No workspace has this slug.");
    const limited = await takeRateLimits(ctx, [
      { key: `device_start:${workspace.slug}`, config: RATE_LIMITS.deviceStart },
    ]);
    if (limited) return limited;
    const deviceId = newDeviceId();
    const approvalUrl = approvalUrlFor(
      {
        localMode: isLocalMode(),
        localBaseUrl: process.env.IAS_LOCAL_BASE_URL,
        consoleUrl: process.env.IAS_CONSOLE_URL,
      },
      deviceId,
    );
    if (approvalUrl === null) {
      return refusal(
        "NOT_CONFIGURED",
        "Device login needs IAS_CONSOLE_URL set on this deployment (where people approve devices).",
      );
    }
    const userCode = generateUserCode();
    const expiresAt = Date.now() + DEVICE_SESSION_TTL_MS;
    await ctx.db.insert("deviceSessions", {
      deviceId,
      secretHash,
      userCode,
      workspaceId: workspace._id,
      ...(machineName ? { machineName } : {}),
      status: "pending",
      expiresAt,
    });
    await ctx.scheduler.runAt(expiresAt, internal.deviceSessions.markExpired, { deviceId });
    return { deviceId, userCode, approvalUrl, expiresAt, intervalMs: DEVICE_POLL_INTERVAL_MS };
  },
});

/**
 * `POST /v1/auth/device/poll`. An unknown id and a wrong secret answer alike. An unknown id
 * touches no bucket, so a flood of made-up ids writes nothing and slows no real login. A known
 * session takes its own bucket before the secret is compared, so wrong secrets use it up too
 * and cannot be guessed without limit. (That a known id can answer 429 and an unknown one
 * never does reveals nothing useful: ids are 144 random bits.) The first poll of an approved
 * session mints the token and marks it consumed, so the token is in clear only in that response.
 */
export const poll = internalMutation({
  args: { deviceId: v.string(), secretHash: v.string() },
  handler: async (ctx, { deviceId, secretHash }) => {
    const session = await sessionByDeviceId(ctx, deviceId);
    if (session === null) return refusal("DEVICE_SESSION_NOT_FOUND", NOT_FOUND_MESSAGE);
    const limited = await takeRateLimits(ctx, [{ key: `device_poll:${deviceId}`, config: RATE_LIMITS.devicePoll }]);
    if (limited) return limited;
    if (!(await secretsEqual(secretHash, session.secretHash)))
      return refusal("DEVICE_SESSION_NOT_FOUND", NOT_FOUND_MESSAGE);

    const status = deviceStatusAt(session.status, session.expiresAt, Date.now());
    if (status !== "approved") return { status };
    const workspace = await ctx.db.get("workspaces", session.workspaceId);
    const approver = session.decidedBy!;
    if (workspace === null || (await membershipOf(ctx, session.workspaceId, approver)) === null) {
      // The approver left (or the workspace went) before the token was collected.
      await ctx.db.patch("deviceSessions", session._id, { status: "denied" });
      return { status: "denied" as const };
    }
    const label = session.machineName ?? "device login";
    const { token, tokenId, prefix } = await insertToken(ctx, {
      kind: "device",
      workspaceId: workspace._id,
      userId: approver,
      label,
    });
    await ctx.db.patch("deviceSessions", session._id, { status: "consumed", tokenId });
    await recordAudit(ctx, {
      workspaceId: workspace._id,
      action: "token.created",
      actor: { kind: "user", userId: approver },
      targetUserId: approver,
      tokenId,
      deviceId,
      details: { kind: "device", label, prefix },
    });
    return { status: "approved" as const, token, workspaceId: workspace._id, workspaceSlug: workspace.slug };
  },
});

// ---- Deciding (Console and local page) -------------------------------------------------------

type Decision = "approve" | "deny";

/**
 * What the person deciding sees: enough to match the terminal (user code, machine, workspace),
 * and who decided, once someone has.
 */
async function sessionView(ctx: QueryCtx, session: Doc<"deviceSessions">) {
  const [workspace, decider] = await Promise.all([
    ctx.db.get("workspaces", session.workspaceId),
    session.decidedBy === undefined ? null : ctx.db.get("users", session.decidedBy),
  ]);
  return {
    deviceId: session.deviceId,
    userCode: session.userCode,
    machineName: session.machineName ?? null,
    workspace: workspace === null ? null : workspaceSummary(workspace),
    // Stored, not computed from the clock: a subscription sees `expired` when markExpired writes it.
    status: session.status,
    expiresAt: session.expiresAt,
    createdAt: session._creationTime,
    decidedAt: session.decidedAt ?? null,
    decidedByName: decider === null ? null : (decider.name ?? decider.email ?? null),
  };
}

/**
 * Approves or denies for `userId`. Repeating the same decision is a no-op; denying an approval
 * not yet collected withdraws it. Anything else (approving a denied session, deciding an
 * expired or consumed one) is refused with the status it is in.
 */
async function decide(
  ctx: MutationCtx,
  session: Doc<"deviceSessions">,
  userId: Id<"users">,
  decision: Decision,
  via: "console" | "local_page",
): Promise<{ ok: true; status: DeviceStatus } | { ok: false; status: DeviceStatus }> {
  const status = deviceStatusAt(session.status, session.expiresAt, Date.now());
  const target = decision === "approve" ? "approved" : "denied";
  const repeated = status === target || (decision === "approve" && status === "consumed");
  if (repeated) return { ok: true, status };
  const allowed = status === "pending" || (decision === "deny" && status === "approved");
  if (!allowed) return { ok: false, status };
  await ctx.db.patch("deviceSessions", session._id, { status: target, decidedBy: userId, decidedAt: Date.now() });
  await recordAudit(ctx, {
    workspaceId: session.workspaceId,
    action: decision === "approve" ? "device.approved" : "device.denied",
    actor: { kind: "user", userId },
    targetUserId: userId,
    deviceId: session.deviceId,
    details: { userCode: session.userCode, machineName: session.machineName ?? null, via },
  });
  return { ok: true, status: target };
}

/** The session behind a Console call; a session of a workspace you are not in looks missing. */
async function requireVisibleSession(ctx: QueryCtx, userId: Id<"users">, deviceId: string) {
  const session = await sessionByDeviceId(ctx, deviceId);
  if (session === null || (await membershipOf(ctx, session.workspaceId, userId)) === null) {
    throw apiError("DEVICE_SESSION_NOT_FOUND", "No device login with this id in your workspaces.");
  }
  return session;
}

/** Console: the approval page's data; `decidedByYou` tells the signed-in person their own decision. */
export const get = userQuery({
  args: { deviceId: v.string() },
  handler: async (ctx, { deviceId }) => {
    const session = await requireVisibleSession(ctx, ctx.userId, deviceId);
    return { ...(await sessionView(ctx, session)), decidedByYou: session.decidedBy === ctx.userId };
  },
});

function consoleDecision(decision: Decision) {
  return userMutation({
    args: { deviceId: v.string() },
    handler: async (ctx, { deviceId }) => {
      const session = await requireVisibleSession(ctx, ctx.userId, deviceId);
      const result = await decide(ctx, session, ctx.userId, decision, "console");
      if (!result.ok) {
        throw apiError(
          "INVALID_DEVICE_SESSION_STATE",
          `This device login is ${result.status}; it can no longer be ${decision === "approve" ? "approved" : "denied"}.`,
        );
      }
      return { status: result.status };
    },
  });
}

/** Console: approve as the signed-in member; the token is minted when the device next polls. */
export const approve = consoleDecision("approve");
/** Console: deny (also withdraws an approval the device has not collected yet). */
export const deny = consoleDecision("deny");

// ---- Local mode (scripts/local/devicePage.ts) -------------------------------------------------

/** The local approval page's data; null for unknown ids and outside local mode. */
export const localView = internalQuery({
  args: { deviceId: v.string() },
  handler: async (ctx, { deviceId }) => {
    const session = isLocalMode() ? await sessionByDeviceId(ctx, deviceId) : null;
    return session === null ? null : await sessionView(ctx, session);
  },
});

/**
 * The local page's approve/deny, acting as an owner of the session's workspace (local mode
 * has one person). Refuses outside local mode, so no deployment can be approved this way.
 */
export const decideAsLocalOwner = internalMutation({
  args: { deviceId: v.string(), decision: v.union(v.literal("approve"), v.literal("deny")) },
  handler: async (ctx, { deviceId, decision }) => {
    const session = isLocalMode() ? await sessionByDeviceId(ctx, deviceId) : null;
    if (session === null) return { outcome: "not_found" as const };
    const [owner] = await ownersOf(ctx, session.workspaceId, 1);
    if (owner === undefined) return { outcome: "not_found" as const };
    const result = await decide(ctx, session, owner.userId, decision, "local_page");
    return { outcome: result.ok ? ("decided" as const) : ("refused" as const), status: result.status };
  },
});

// ---- Expiry and retention --------------------------------------------------------------------

/** Scheduled at a session's `expiresAt`: a session still pending or approved-but-uncollected expires. */
export const markExpired = internalMutation({
  args: { deviceId: v.string() },
  handler: async (ctx, { deviceId }) => {
    const session = await sessionByDeviceId(ctx, deviceId);
    if (session === null) return null;
    const status = deviceStatusAt(session.status, session.expiresAt, Date.now());
    if (status !== session.status) await ctx.db.patch("deviceSessions", session._id, { status });
    return null;
  },
});

const SCRUB_BATCH = 500;

/** Cron: deletes sessions (and their secret hashes) an hour after they expired. */
export const scrubFinished = internalMutation({
  args: {},
  handler: async (ctx): Promise<{ deleted: number }> => {
    const finished = await ctx.db
      .query("deviceSessions")
      .withIndex("by_expires", (q) => q.lt("expiresAt", Date.now() - DEVICE_SESSION_RETENTION_MS))
      .take(SCRUB_BATCH);
    const batch = { documents: finished, size: SCRUB_BATCH, again: internal.deviceSessions.scrubFinished };
    return { deleted: await sweepBatch(ctx, batch, (session) => ctx.db.delete("deviceSessions", session._id)) };
  },
});
