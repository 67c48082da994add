/**
 * The security events the audit log records (SPEC §9) and what a row may hold. Rows name
 * tokens by id and visible prefix only: a token value or secret never belongs in one.
 */
import { v, type Infer } from "convex/values";
import { TOKEN_PREFIX, VISIBLE_PREFIX_LENGTH } from "./tokens";

export const AUDIT_ACTIONS = [
  "device.approved",
  "device.denied",
  "token.created",
  "token.revoked",
  "member.added",
  "member.removed",
  "member.role_changed",
  "workspace.data_policy_changed",
  "workspace.cancel_grace_changed",
  "worker.drained",
  "worker.undrained",
  "worker.removed",
  "queue.paused",
  "queue.resumed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const auditActionValidator = v.union(...AUDIT_ACTIONS.map((action) => v.literal(action)));

/** Who did it: a Console user, a minted token, the deployment service token, or dev mode. */
export const auditActorValidator = v.union(
  v.object({ kind: v.literal("user"), userId: v.id("users") }),
  v.object({ kind: v.literal("token"), tokenId: v.id("apiTokens"), userId: v.optional(v.id("users")) }),
  v.object({ kind: v.literal("service") }),
  v.object({ kind: v.literal("dev") }),
);
export type AuditActor = Infer<typeof auditActorValidator>;

/** Small facts about the event (a role before and after, a token label, ...). */
export const auditDetailsValidator = v.record(v.string(), v.union(v.string(), v.number(), v.boolean(), v.null()));
export type AuditDetails = Infer<typeof auditDetailsValidator>;

/**
 * `text` with every token-like run cut back to its visible prefix plus "…". Innocent text that
 * merely looks like a token (a machine named `alias_build_machine`) is shortened, never refused.
 */
export function redactTokens(text: string): string {
  const visibleRest = VISIBLE_PREFIX_LENGTH - TOKEN_PREFIX.length;
  return text.replace(
    new RegExp(`${TOKEN_PREFIX}([A-Za-z0-9_-]{${visibleRest}})[A-Za-z0-9_-]+`, "g"),
    `${TOKEN_PREFIX}$1…`,
  );
}
