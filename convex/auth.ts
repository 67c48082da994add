import { Password } from "@convex-dev/auth/providers/Password";
import { convexAuth } from "@convex-dev/auth/server";
import type { Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import { joinLocalWorkspaceIfFirst } from "./workspaces";

/** Console sign-in: email + password through @convex-dev/auth. */
export const { auth, signIn, signOut, store, isAuthenticated } = convexAuth({
  providers: [Password],
  callbacks: {
    // Runs in the sign-up's own transaction, so the account and its local membership commit together.
    async afterUserCreatedOrUpdated(ctx, { userId, existingUserId }) {
      if (existingUserId === null)
        await joinLocalWorkspaceIfFirst(ctx as unknown as MutationCtx, userId as Id<"users">);
    },
  },
});
