/**
 * Who may change whose membership (owner > admin > member > viewer). Pure, so the rules read
 * in one place; the last-owner rule needs the database and lives in convex/members.ts.
 */
import { roleAtLeast, type Role } from "./roles";

/** Adding, removing and changing roles needs at least this role. */
export const MANAGE_MEMBERS_ROLE: Role = "admin";

/**
 * Why `actor` may not move a member from `from` (null: not a member yet) to `to` (null:
 * removed), or null when allowed. Nobody acts above their own role: an admin cannot touch
 * an owner nor make one; an owner may do anything.
 */
export function membershipChangeProblem(actor: Role, from: Role | null, to: Role | null): string | null {
  if (!roleAtLeast(actor, MANAGE_MEMBERS_ROLE))
    return `Managing members needs the ${MANAGE_MEMBERS_ROLE} role; you are ${actor}.`;
  if (from !== null && !roleAtLeast(actor, from)) return `As ${actor} you cannot change a member who is ${from}.`;
  if (to !== null && !roleAtLeast(actor, to)) return `As ${actor} you cannot grant the ${to} role.`;
  return null;
}
