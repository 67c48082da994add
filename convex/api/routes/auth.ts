/**
 * Device-login and token routes. Handlers live in convex/deviceSessions.ts (start, poll) and
 * convex/tokens.ts (revoke).
 */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { DEVICE_STATUSES } from "../../model/deviceCodes";
import { unlessRefused } from "../../model/errors";
import { randomSecret, sha256Hex } from "../../model/tokens";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

export const authRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/auth/device/start`,
    auth: "none",
    cors: false,
    tag: "auth",
    summary: "Start a device login (`ias auth login`): the person approves it at `approvalUrl`, the CLI polls.",
    description:
      "`deviceSecret` is shown only here; keep it for polling. `userCode` is displayed by the CLI and on the approval " +
      "page so the person can match them. Throttled per workspace slug (429 RATE_LIMITED with `retryAfterMs`).",
    request: z.object({
      workspaceSlug: z.string().min(1).max(64),
      machineName: z.string().trim().max(120).optional(),
    }),
    response: z.object({
      deviceId: z.string(),
      deviceSecret: z.string(),
      userCode: z.string().meta({ description: "Like `WDJB-MJHT`." }),
      approvalUrl: z.string(),
      expiresAt: z.number(),
      intervalMs: z.number().int(),
    }),
    errors: ["WORKSPACE_NOT_FOUND", "RATE_LIMITED", "NOT_CONFIGURED"],
    handler: async (ctx, { body }) => {
      // Only the hash enters the mutation, so the clear secret is in no argument and no row.
      const deviceSecret = randomSecret(32);
      const secretHash = await sha256Hex(deviceSecret);
      const started = await unlessRefused(ctx.runMutation(internal.deviceSessions.start, { ...body, secretHash }));
      const { deviceId, userCode, approvalUrl, expiresAt, intervalMs } = started;
      return { deviceId, deviceSecret, userCode, approvalUrl, expiresAt, intervalMs };
    },
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/auth/device/poll`,
    auth: "none",
    cors: false,
    tag: "auth",
    summary: "Poll a device login: `pending` until decided; `approved` carries the token, exactly once.",
    description:
      "After the approved answer the session says `consumed`. An unknown `deviceId` and a wrong `deviceSecret` both " +
      "answer 404 DEVICE_SESSION_NOT_FOUND. Throttled per session (429 RATE_LIMITED with `retryAfterMs`).",
    request: z.object({ deviceId: z.string().min(1).max(128), deviceSecret: z.string().min(1).max(256) }),
    response: z.object({
      status: z.enum(DEVICE_STATUSES),
      token: z.string().optional().meta({ description: "Only with `approved`: the bearer token, shown this once." }),
      workspaceId: idField("workspaces").optional(),
      workspaceSlug: z.string().optional(),
    }),
    errors: ["DEVICE_SESSION_NOT_FOUND", "RATE_LIMITED"],
    handler: async (ctx, { body }) =>
      unlessRefused(
        ctx.runMutation(internal.deviceSessions.poll, {
          deviceId: body.deviceId,
          secretHash: await sha256Hex(body.deviceSecret),
        }),
      ),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/auth/token/revoke`,
    auth: "bearer",
    cors: true,
    tag: "auth",
    summary: "Revoke the bearer token this request was made with (`ias auth logout`).",
    request: z.object({}),
    response: z.object({ revoked: z.literal(true) }),
    handler: (ctx, { caller }) => ctx.runMutation(internal.tokens.revokeOwnToken, { caller }),
  }),
];
