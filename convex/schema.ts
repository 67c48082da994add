import { authTables } from "@convex-dev/auth/server";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { dataPolicyValidator, roleValidator } from "./model/roles";

export default defineSchema({
  /** Users, sessions and accounts of Console sign-in. Written by @convex-dev/auth. */
  ...authTables,

  /**
   * Written by Console `workspaces.create` / `setDataPolicy` (and local-mode bootstrap).
   * Read by every workspace-scoped route through `access.ts`.
   */
  workspaces: defineTable({
    slug: v.string(),
    name: v.string(),
    dataPolicy: dataPolicyValidator,
    createdBy: v.optional(v.id("users")),
  }).index("by_slug", ["slug"]),

  /**
   * Written by `workspaces.create` (the creator as owner) and member management.
   * Read on every request made with a device token: access is re-checked against it each time.
   */
  memberships: defineTable({
    workspaceId: v.id("workspaces"),
    userId: v.id("users"),
    role: roleValidator,
  })
    .index("by_workspace_user", ["workspaceId", "userId"])
    .index("by_user", ["userId"]),

  /**
   * Tokens this deployment minted (device and workspace service tokens), stored only as a
   * SHA-256 hash. Written when minted, revoked, or when `lastUsedAt` is refreshed (at most once a
   * minute). Read by `tokens.authenticate` on every bearer request.
   */
  apiTokens: defineTable({
    tokenHash: v.string(),
    prefix: v.string(),
    kind: v.union(v.literal("device"), v.literal("service")),
    userId: v.optional(v.id("users")),
    workspaceId: v.id("workspaces"),
    label: v.string(),
    expiresAt: v.number(),
    revokedAt: v.optional(v.number()),
    lastUsedAt: v.optional(v.number()),
  })
    .index("by_hash", ["tokenHash"])
    .index("by_user", ["userId"])
    .index("by_workspace", ["workspaceId"]),
});
