/**
 * Readiness (SPEC §9b): `GET /control-plane/ready` answers 200 once the database answers. The
 * probe is one index read of one document, whatever the deployment holds.
 */
import { v } from "convex/values";
import { internalQuery } from "./_generated/server";

/** Reads from the database; throws when it cannot (the route then answers 503 NOT_READY). */
export const probe = internalQuery({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.db.query("workspaces").withIndex("by_slug").first();
    return null;
  },
});
