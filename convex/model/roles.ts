import { v, type Infer } from "convex/values";

/** Workspace roles, lowest first. */
export const ROLES = ["viewer", "member", "admin", "owner"] as const;
export type Role = (typeof ROLES)[number];
export const roleValidator = v.union(...ROLES.map((role) => v.literal(role)));

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(minimum);
}

export const DATA_POLICIES = ["full", "metadata_only", "none"] as const;
export type DataPolicy = (typeof DATA_POLICIES)[number];
export const dataPolicyValidator = v.union(...DATA_POLICIES.map((p) => v.literal(p)));
export type DataPolicyValue = Infer<typeof dataPolicyValidator>;
