/** Token and device-login routes. Handlers live in convex/tokens.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { defineRoute, type Route } from "../route";
import { CP } from "../schemas";

export const authRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/auth/token/revoke`,
    auth: "bearer",
    tag: "auth",
    summary: "Revoke the bearer token this request was made with (`ias auth logout`).",
    request: z.object({}),
    response: z.object({ revoked: z.literal(true) }),
    handler: (ctx, { caller }) => ctx.runMutation(internal.tokens.revokeOwnToken, { caller }),
  }),
];
