/**
 * The security events the audit log records (SPEC §9) and what a row may hold. Rows name
 * tokens by id and visible prefix only: a token value or secret never belongs in one.
 */
import { v, type GenericId, type Infer } from "convex/values";
import { TOKEN_PREFIX, VISIBLE_PREFIX_LENGTH } from "./tokens";

export const AUDIT_ACTIONS = [
  // Device logins and tokens.
  "device.approved",
  "device.denied",
  "token.created",
  "token.revoked",
  // Members.
  "member.added",
  "member.removed",
  "member.role_changed",
  // The workspace and its settings.
  "workspace.created",
  "workspace.data_policy_changed",
  "workspace.retention_changed",
  "workspace.cancel_grace_changed",
  // Integrations.
  "run_trigger.created",
  "run_trigger.updated",
  "run_trigger.deleted",
  "slack.team_bound",
  "slack.team_unbound",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  // Jobs changed by people in the Console (workers' own calls are the job timeline, not audit).
  "job.enqueued",
  "job.canceled",
  "job.retried",
  // The queue and workers (recorded by the pause, concurrency and drain functions that come with them).
  "queue.paused",
  "queue.resumed",
  "concurrency.limit_set",
  "worker.drained",
  "worker.undrained",
  "worker.removed",
  // A service token (the deployment's or a workspace's) used on an admin HTTP route (`recordAdminRouteUse`).
  "service_token.used",
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

export const AUDIT_ACTOR_KINDS = ["user", "token", "service", "dev"] as const satisfies readonly AuditActor["kind"][];
export const auditActorKindValidator = v.union(...AUDIT_ACTOR_KINDS.map((kind) => v.literal(kind)));

/** The actor as the audit list's indexes see it: its kind, and the person behind it when there is one. */
export function actorIndexFields(actor: AuditActor): {
  actorKind: AuditActor["kind"];
  actorUserId?: GenericId<"users">;
} {
  const userId = actor.kind === "user" || actor.kind === "token" ? actor.userId : undefined;
  return { actorKind: actor.kind, ...(userId === undefined ? {} : { actorUserId: userId }) };
}

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

/** The fields an update sent (left-out ones are `undefined`), sorted and joined: the `changed` detail. */
export function changedFields(changes: Record<string, unknown>): string {
  return Object.keys(changes)
    .filter((key) => changes[key] !== undefined)
    .sort()
    .join(", ");
}
