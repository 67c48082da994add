import { authTables } from "@convex-dev/auth/server";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import {
  decisionOptionValidator,
  decisionStatusValidator,
  resolutionModeValidator,
  uncertaintyStatementFields,
  uncertaintyStatusValidator,
} from "./model/decisions";
import { tierValidator, uncertaintyKindValidator } from "./model/promotion";
import {
  jobEventTypeValidator,
  jobKindValidator,
  jobOutcomeValidator,
  jobStatusValidator,
  laneValidator,
} from "./model/jobs";
import { capabilitiesValidator, extraCapabilitiesValidator } from "./model/capabilities";
import { requirementsValidator } from "./model/matching";
import { outcomeReasonValidator } from "./model/outcomeReasons";
import { retryPolicyValidator } from "./model/scheduling";
import { repoStatusValidator, workerInventoryValidator, workerStatusValidator } from "./model/workers";
import { dataPolicyValidator, roleValidator } from "./model/roles";
import {
  auditActionValidator,
  auditActorKindValidator,
  auditActorValidator,
  auditDetailsValidator,
} from "./model/audit";
import { storedDeviceStatusValidator } from "./model/deviceCodes";
import { runStatusValidator } from "./model/runs";
import { promotionStateValidator } from "./model/contextLake";
import { packEntryValidator } from "./model/contextPacks";
import { scheduleValidator } from "./model/cronSchedule";
import { scheduledRunOutcomeValidator, triggerActionValidator, triggerOutcomeValidator } from "./model/runTriggers";
import { retentionSettingsValidator } from "./model/retention";
import {
  webhookDeliveryStateValidator,
  webhookDeliveryTypeValidator,
  webhookEventTypeValidator,
} from "./model/webhooks";

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
    /** How long a running job may go on after its cancel was requested (default 120 s, model/scheduling.ts). */
    cancelGraceMs: v.optional(v.number()),
  }).index("by_slug", ["slug"]),

  /**
   * Owned by memberships.ts (every read and write goes through its helpers). Written by
   * `workspaces.create` (the creator as owner) and member management (members.ts). Read on every
   * request made with a device token: access is re-checked against it each time.
   */
  memberships: defineTable({
    workspaceId: v.id("workspaces"),
    userId: v.id("users"),
    role: roleValidator,
  })
    .index("by_workspace_user", ["workspaceId", "userId"])
    .index("by_user", ["userId"])
    .index("by_workspace_role", ["workspaceId", "role"]),

  /**
   * Tokens this deployment minted (device and workspace service tokens), stored only as a
   * SHA-256 hash. Written when minted, revoked, or when `lastUsedAt` is refreshed (at most once a
   * minute). Read by `tokens.authenticate` on every bearer request, by the Console token lists,
   * and by `members.remove`, which revokes the removed member's unrevoked, unexpired tokens of
   * that workspace through `by_user_workspace_revoked_expires`. `expired` is set by the
   * `markExpiredTokens` cron once `expiresAt` passed, so Console lists show it without a clock
   * read (authentication compares `expiresAt` with the request's time).
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
    expired: v.optional(v.literal(true)),
  })
    .index("by_hash", ["tokenHash"])
    .index("by_expired_expires", ["expired", "expiresAt"])
    .index("by_user", ["userId"])
    .index("by_user_workspace_revoked_expires", ["userId", "workspaceId", "revokedAt", "expiresAt"])
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_kind", ["workspaceId", "kind"])
    // Retention (retention.ts): tokens 30 days past their expiry or their revocation.
    .index("by_workspace_expires", ["workspaceId", "expiresAt"])
    .index("by_workspace_revoked", ["workspaceId", "revokedAt"]),

  /**
   * Device logins (SPEC §5). Inserted by `/v1/auth/device/start`; decided by the Console
   * (`deviceSessions.approve`/`deny`) or the local approval page; `/v1/auth/device/poll` mints
   * the token of an approved session once and marks it consumed. Deleted by the cron an hour
   * after `expiresAt`. The device secret is stored only as its SHA-256 hash.
   */
  deviceSessions: defineTable({
    deviceId: v.string(),
    secretHash: v.string(),
    userCode: v.string(),
    workspaceId: v.id("workspaces"),
    machineName: v.optional(v.string()),
    status: storedDeviceStatusValidator,
    expiresAt: v.number(),
    decidedBy: v.optional(v.id("users")),
    decidedAt: v.optional(v.number()),
    tokenId: v.optional(v.id("apiTokens")),
  })
    .index("by_device_id", ["deviceId"])
    .index("by_expires", ["expiresAt"]),

  /**
   * Token buckets of the rate limiter (rateLimits.ts): `device_start:<slug>` per existing
   * workspace, `device_poll:<deviceId>` per existing device session (unknown ones get no row).
   * Written by device start and poll (a poll then refused for a wrong secret still counts); rows
   * untouched long enough to be full again are deleted by the cron.
   */
  rateLimits: defineTable({
    key: v.string(),
    tokens: v.number(),
    updatedAt: v.number(),
  })
    .index("by_key", ["key"])
    .index("by_updated", ["updatedAt"]),

  /**
   * Security events and admin changes (SPEC §9; the actions are listed in model/audit.ts).
   * Appended only, through `recordAudit` (audit.ts); read by the Console audit list (admins),
   * filtered by action, actor and time through the indexes below; deleted by retention after
   * `auditDays`. Never holds a token value or secret.
   */
  auditLog: defineTable({
    workspaceId: v.id("workspaces"),
    action: auditActionValidator,
    actor: auditActorValidator,
    /** `actor.kind` and the acting user (a Console user or a device token's), copied for the actor filter's indexes. */
    actorKind: v.optional(auditActorKindValidator),
    actorUserId: v.optional(v.id("users")),
    targetUserId: v.optional(v.id("users")),
    tokenId: v.optional(v.id("apiTokens")),
    deviceId: v.optional(v.string()),
    details: v.optional(auditDetailsValidator),
  })
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_action", ["workspaceId", "action"])
    .index("by_workspace_actor_kind", ["workspaceId", "actorKind"])
    .index("by_workspace_actor_user", ["workspaceId", "actorUserId"]),

  /**
   * Runs (goals). Written by `/v1/runs/upsert` (keyed by repo + `runRef`) and `/v2/runs/upsert`
   * (by id) in runs.ts, by run triggers (integrations), and by decisions.ts (a job completed
   * `blocked` on an open decision sets `blockedByDecisionRequestId`; applying or dismissing that
   * decision clears it, found through `by_blocked_by`). Read by the Console run list and detail,
   * by uncertainties (a run's repo receives its `apply_decision` jobs).
   */
  runs: defineTable({
    workspaceId: v.id("workspaces"),
    repoId: v.id("repos"),
    runRef: v.string(),
    status: runStatusValidator,
    currentMilestone: v.optional(v.string()),
    runStatePath: v.optional(v.string()),
    blockedByDecisionRequestId: v.optional(v.id("decisionRequests")),
    goal: v.optional(v.string()),
    updatedAt: v.number(),
  })
    .index("by_workspace_repo_ref", ["workspaceId", "repoId", "runRef"])
    .index("by_workspace_updated", ["workspaceId", "updatedAt"])
    .index("by_workspace_status_updated", ["workspaceId", "status", "updatedAt"])
    .index("by_blocked_by", ["blockedByDecisionRequestId"]),

  /**
   * A run's milestone history: appended by runs.ts whenever an upsert changes
   * `currentMilestone`. Read by the Console run detail.
   */
  runMilestones: defineTable({
    workspaceId: v.id("workspaces"),
    runId: v.id("runs"),
    milestone: v.string(),
    runStatus: runStatusValidator,
  }).index("by_run", ["runId"]),

  /**
   * What an agent was unsure about. Written by `/v1/uncertainties/create-with-auto-promotion`
   * in uncertainties.ts (status `open` when promoted to a decision request, else `assumed`);
   * each resolution (decisions.ts) sets its status. Read by add-resolution and the Inbox detail.
   */
  uncertainties: defineTable({
    workspaceId: v.id("workspaces"),
    runId: v.id("runs"),
    jobId: v.optional(v.id("jobs")),
    ...uncertaintyStatementFields,
    autoPromoteThreshold: v.number(),
    status: uncertaintyStatusValidator,
    decisionRequestId: v.optional(v.id("decisionRequests")),
    idempotencyKey: v.optional(v.string()),
  })
    .index("by_workspace_idempotency_key", ["workspaceId", "idempotencyKey"])
    .index("by_run", ["runId"]),

  /**
   * Promoted uncertainties: the Inbox. Written on promotion (uncertainties.ts) and by
   * decisions.ts (answer, dismiss, `applied` when its `apply_decision` job completes `done`).
   * `inboxRank` (model/decisions.ts) keeps the Inbox order one index range. Read by the Console Inbox
   * and run detail.
   */
  decisionRequests: defineTable({
    workspaceId: v.id("workspaces"),
    runId: v.id("runs"),
    uncertaintyId: v.id("uncertainties"),
    jobId: v.optional(v.id("jobs")),
    prompt: v.string(),
    kind: uncertaintyKindValidator,
    options: v.optional(v.array(decisionOptionValidator)),
    tier: tierValidator,
    status: decisionStatusValidator,
    inboxRank: v.number(),
    resolutionId: v.optional(v.id("resolutions")),
    answer: v.optional(v.string()),
    answerNote: v.optional(v.string()),
    answeredAt: v.optional(v.number()),
    answeredBy: v.optional(v.id("users")),
    applyJobId: v.optional(v.id("jobs")),
    appliedAt: v.optional(v.number()),
    dismissedAt: v.optional(v.number()),
    dismissedBy: v.optional(v.id("users")),
  })
    .index("by_workspace_inbox", ["workspaceId", "inboxRank"])
    .index("by_run", ["runId"])
    .index("by_apply_job", ["applyJobId"]),

  /**
   * Append-only answers to uncertainties, written through decisions.ts `recordResolution` by
   * `/v1/uncertainties/add-resolution` and the Console Inbox (answer, dismiss). Read by the Inbox detail.
   */
  resolutions: defineTable({
    workspaceId: v.id("workspaces"),
    uncertaintyId: v.id("uncertainties"),
    decisionRequestId: v.optional(v.id("decisionRequests")),
    mode: resolutionModeValidator,
    value: v.string(),
    note: v.optional(v.string()),
    commitSha: v.optional(v.string()),
    confidence: v.optional(v.number()),
    createdByJobId: v.optional(v.id("jobs")),
    createdByUserId: v.optional(v.id("users")),
  }).index("by_uncertainty", ["uncertaintyId"]),

  /**
   * Machines that run jobs. Upserted by `/v1/workers/heartbeat` (workers.ts), keyed by
   * (workspace, machineFingerprint), or by displayName when no fingerprint is sent. Read by
   * claim-next (status, capabilities) and the Console worker list. `online` is stored, not computed
   * from the clock in a query (a subscription would never see it change): true on a heartbeat with
   * status `online`, turned false by the `markSilentWorkersOffline` cron 60 s after the last one.
   */
  workers: defineTable({
    workspaceId: v.id("workspaces"),
    displayName: v.string(),
    machineFingerprint: v.optional(v.string()),
    status: workerStatusValidator,
    capabilities: capabilitiesValidator,
    /** Unknown scalar capability keys the worker sent, bounded (model/capabilities.ts); listed with `capabilities`. */
    extraCapabilities: v.optional(extraCapabilitiesValidator),
    inventory: workerInventoryValidator,
    lastSeenAt: v.number(),
    /** Absent on rows written before the flag existed: offline until the next heartbeat. */
    online: v.optional(v.boolean()),
    /** Set by an admin (workerAdmin.ts): no new jobs whatever the heartbeat says; heartbeats answer `drainRequested`. */
    drainRequested: v.optional(v.boolean()),
  })
    .index("by_workspace_identity", ["workspaceId", "machineFingerprint", "displayName"])
    .index("by_workspace_last_seen", ["workspaceId", "lastSeenAt"])
    .index("by_online_last_seen", ["online", "lastSeenAt"])
    // Metrics (metrics.ts): a workspace's online workers, counted in a bounded range.
    .index("by_workspace_online", ["workspaceId", "online"]),

  /**
   * Repositories, known by the SHA-256 of their normalised remote URL. Written by
   * `/v1/repos/upsert` (repos.ts). Read by repo routes, enqueue (the repo must be of the
   * workspace) and runs.
   */
  repos: defineTable({
    workspaceId: v.id("workspaces"),
    remoteUrlHash: v.string(),
    label: v.optional(v.string()),
    status: repoStatusValidator,
    updatedAt: v.number(),
  }).index("by_workspace_hash", ["workspaceId", "remoteUrlHash"]),

  /**
   * The job queue (SPEC §6). Written only through jobState.ts: born by `insertJob` (`enqueueJob`,
   * jobs.ts), status changed by `moveJob` (claim and complete in leases.ts, lost leases in
   * recovery.ts, cancel and retry in jobs.ts), anything else by `updateJob`. Read by the job
   * routes, the Console and runs (jobs of a run).
   * `by_queue` orders each (repo, requirements) stream of pending jobs: claim-next walks it (queue.ts).
   */
  jobs: defineTable({
    workspaceId: v.id("workspaces"),
    repoId: v.id("repos"),
    runId: v.optional(v.id("runs")),
    /** The run's `runRef` (a run's never changes), copied whenever `runId` is set: workers find the run's folder by it. */
    runRef: v.optional(v.string()),
    parentJobId: v.optional(v.id("jobs")),
    kind: jobKindValidator,
    role: v.string(),
    prompt: v.string(),
    /** Canonical form (model/matching.ts): the runner's spellings are folded in at enqueue. */
    requirements: requirementsValidator,
    /** Canonical signature of `requirements` (model/matching.ts): jobs with equal keys match the same workers. */
    requirementsKey: v.string(),
    priority: v.number(),
    lane: laneValidator,
    status: jobStatusValidator,
    attempts: v.number(),
    maxAttempts: v.number(),
    claimGeneration: v.number(),
    claimedBy: v.optional(v.id("workers")),
    claimedAt: v.optional(v.number()),
    /** The lease length granted at claim: heartbeats without `leaseMs` extend by this much. */
    leaseMs: v.optional(v.number()),
    leaseExpiresAt: v.optional(v.number()),
    cancelRequested: v.boolean(),
    outcome: v.optional(jobOutcomeValidator),
    message: v.optional(v.string()),
    /** A string, or the v1 object of SPEC §12 (model/outcomeReasons.ts); stored as sent. */
    outcomeReason: v.optional(outcomeReasonValidator),
    evidence: v.optional(v.any()),
    /**
     * The last completion a worker made (leases.ts): who, in which claim, with which outcome
     * (after the command's report was merged in). Kept after the job leaves the claim (a retry, a
     * timeout's end), so the same completion repeated answers `idempotent: true`.
     */
    lastCompletion: v.optional(
      v.object({ workerId: v.id("workers"), claimGeneration: v.number(), outcome: jobOutcomeValidator }),
    ),
    idempotencyKey: v.optional(v.string()),
    /** complete-and-enqueue-children: the key of the completion and the children it spawned. */
    completionKey: v.optional(v.string()),
    spawnedJobIds: v.optional(v.array(v.id("jobs"))),
    /** SHA-256 of the current claim's job token (model/jobTokens.ts); replaced at each claim, never returned. */
    jobTokenHash: v.optional(v.string()),
    /** The `seq` the next event of this job gets (jobState.ts), so appending is O(1). */
    nextEventSeq: v.number(),
    finishedAt: v.optional(v.number()),
    updatedAt: v.number(),
    /** While `scheduled`: when it becomes pending (scheduling.ts releases it then). */
    availableAt: v.optional(v.number()),
    /** Enqueue's `retry`, defaults filled in (model/scheduling.ts); absent: no back-off, `failed` is final. */
    retryPolicy: v.optional(retryPolicyValidator),
    /** Enqueue's `timeoutMs`, counted from each claim. */
    timeoutMs: v.optional(v.number()),
    /** When the current claim's cancel was requested (by a person or a timeout); the cancel grace counts from it. */
    cancelRequestedAt: v.optional(v.number()),
    /** Set when the current claim passed `timeoutMs`: its end after the grace is `failed` (`timeout`). */
    timedOut: v.optional(v.boolean()),
    /** When the job last became `pending` (metrics: the oldest waiting job per lane). */
    pendingSince: v.optional(v.number()),
    /**
     * True once the job is in the counters (jobCounters.ts): from birth, or when the one-time
     * backfill counted a job older than the counters. Moves of an uncounted job change no counter.
     */
    counted: v.optional(v.boolean()),
    /**
     * Enqueue's `concurrencyKey` (SPEC §6 "Concurrency"): at most the key's limit of its jobs are
     * admitted (`pending` or `running`) at once; the others wait in `waiting` (concurrency.ts).
     */
    concurrencyKey: v.optional(v.string()),
  })
    .index("by_queue", ["workspaceId", "lane", "status", "repoId", "requirementsKey", "priority"])
    .index("by_status_lease", ["status", "leaseExpiresAt"])
    .index("by_status_available", ["status", "availableAt"])
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_status", ["workspaceId", "status"])
    .index("by_workspace_repo", ["workspaceId", "repoId"])
    .index("by_workspace_repo_status", ["workspaceId", "repoId", "status"])
    .index("by_workspace_run", ["workspaceId", "runId"])
    .index("by_workspace_run_status", ["workspaceId", "runId", "status"])
    .index("by_parent_status", ["parentJobId", "status"])
    .index("by_workspace_kind", ["workspaceId", "kind"])
    .index("by_workspace_kind_status", ["workspaceId", "kind", "status"])
    .index("by_workspace_claimed_by", ["workspaceId", "claimedBy"])
    .index("by_workspace_claimed_by_status", ["workspaceId", "claimedBy", "status"])
    .index("by_workspace_idempotency_key", ["workspaceId", "idempotencyKey"])
    .index("by_workspace_completion_key", ["workspaceId", "completionKey"])
    // Retention (retention.ts): finished jobs by `finishedAt` (and by_parent_status above: whether a parent's children are finished).
    .index("by_workspace_finished", ["workspaceId", "finishedAt"])
    // Metrics: the first entry of a (workspace, lane) range of pending jobs is the one waiting longest.
    .index("by_workspace_lane_status_pending", ["workspaceId", "lane", "status", "pendingSince"])
    // Concurrency (concurrency.ts): a key's waiting jobs in admission order (lowest priority, then oldest).
    .index("by_workspace_concurrency_key", ["workspaceId", "concurrencyKey", "status", "priority"]),

  /**
   * One per (workspace, concurrency key) ever used (SPEC §6 "Concurrency"): how many of its jobs
   * are admitted now (`pending` or `running`, counted up at admission and down shortly after the
   * job leaves) and the admin's limit (absent: 1). Read and written only by jobs of that key's
   * transitions and the Console's limit change (concurrencyKeys.ts, concurrency.ts); claim-next
   * never reads it.
   */
  concurrencyKeys: defineTable({
    workspaceId: v.id("workspaces"),
    key: v.string(),
    admitted: v.number(),
    limit: v.optional(v.number()),
    updatedAt: v.number(),
  }).index("by_workspace_key", ["workspaceId", "key"]),

  /**
   * Job counter totals (SPEC §9b): one per (workspace, lane), the sum of every delta folded so
   * far. Written only by jobCounters.ts `rollup`; read by it and by metrics.ts (with the pending
   * deltas). A deployment from before the deltas may still hold a (workspace, lane)'s 16 legacy
   * shards (`shard` set): they are read and summed the same way, and the first rollup that
   * touches that (workspace, lane) merges them into one total (no `shard`).
   */
  jobCounters: defineTable({
    workspaceId: v.id("workspaces"),
    lane: laneValidator,
    /** Legacy shards only (0-15); a total written by the rollup has none. */
    shard: v.optional(v.number()),
    /** Jobs in each status now. */
    statuses: v.record(v.string(), v.number()),
    /** Moves made, keyed `<from>><to>:<event>` (births from `new`). */
    moves: v.record(v.string(), v.number()),
  }).index("by_workspace_lane_shard", ["workspaceId", "lane", "shard"]),

  /**
   * Job counter changes not yet folded into `jobCounters` (SPEC §9b): one inserted per (workspace,
   * lane) by each transaction that births, moves or deletes counted jobs (jobCounters.ts, from
   * jobState.ts's insertJob, moveJob and deleteFinishedJob, and the backfill). Never read on a hot
   * path, so concurrent moves never conflict through them; read by metrics.ts (a workspace's
   * pending ones, `by_workspace`) and by `rollup` (oldest first, `by_creation_time`), which
   * deletes what it folds.
   */
  jobCounterDeltas: defineTable({
    workspaceId: v.id("workspaces"),
    lane: laneValidator,
    /** What the change adds to each status (non-zero entries only). */
    statuses: v.record(v.string(), v.number()),
    /** What it adds to each move key (non-zero entries only). */
    moves: v.record(v.string(), v.number()),
  }).index("by_workspace", ["workspaceId"]),

  /**
   * The one-time backfill of the job counters (metricsBackfill.ts): at most one row, its `generation`
   * naming the chain of scheduled pages allowed to go on, `cursor` where it is, `finishedAt` once done.
   */
  jobCounterBackfills: defineTable({
    generation: v.number(),
    cursor: v.union(v.string(), v.null()),
    counted: v.number(),
    startedAt: v.number(),
    finishedAt: v.optional(v.number()),
  }),

  /**
   * What a job's command reported with its job token during one claim (SPEC §7 decision flow):
   * a `blocked` reason, evidence, children it proposes. Written by jobToken.ts (the `/v1/job/*`
   * routes); read once by the worker's completion (jobReports.ts), which merges it in.
   */
  jobReports: defineTable({
    workspaceId: v.id("workspaces"),
    jobId: v.id("jobs"),
    claimGeneration: v.number(),
    blockedReason: v.optional(v.string()),
    evidence: v.optional(v.record(v.string(), v.any())),
    /** Enqueue bodies (without workspaceId), checked when proposed; spawned with the completion. */
    children: v.array(v.any()),
  }).index("by_job_generation", ["jobId", "claimGeneration"]),

  /**
   * Retired: the claim directory of earlier versions (one document per workspace lane listing every
   * stream's head, rewritten by each claim). Nothing reads or writes it any more: claim-next walks
   * `jobs.by_queue` (queue.ts). Kept so a deployment still holding such documents deploys;
   * `queue:dropRetiredClaimDirectories` empties it, and a later version removes the table.
   */
  jobQueues: defineTable({
    workspaceId: v.id("workspaces"),
    lane: laneValidator,
    heads: v.array(
      v.object({
        repoId: v.id("repos"),
        requirementsKey: v.string(),
        priority: v.number(),
        createdAt: v.number(),
        jobId: v.id("jobs"),
      }),
    ),
  }).index("by_workspace_lane", ["workspaceId", "lane"]),

  /**
   * Paused queues (SPEC §6 "Pause"): one document per (workspace, lane), written by the pause and
   * resume calls (queuePauses.ts), read once by each claim-next of that lane.
   */
  queuePauses: defineTable({
    workspaceId: v.id("workspaces"),
    lane: laneValidator,
    /** The whole lane is paused. */
    lanePaused: v.boolean(),
    /** Repos paused in this lane (the lane itself may be running). */
    pausedRepoIds: v.array(v.id("repos")),
  }).index("by_workspace_lane", ["workspaceId", "lane"]),

  /**
   * Job timeline, `seq` counting from 1 per job. Appended through jobState.ts with each job write
   * it records (every move, logged lines, heartbeats with a message); a heartbeat with the same message as the
   * job's last event updates that event's `count` and `lastAt` instead. Read by
   * `/v1/job-events/list-for-job` and the Console job detail; deleted with their job by retention.
   */
  jobEvents: defineTable({
    workspaceId: v.id("workspaces"),
    jobId: v.id("jobs"),
    seq: v.number(),
    type: jobEventTypeValidator,
    at: v.number(),
    message: v.optional(v.string()),
    data: v.optional(v.any()),
    /** Heartbeat events: how many consecutive heartbeats with this message it stands for, and the last one's time. */
    count: v.optional(v.number()),
    lastAt: v.optional(v.number()),
  }).index("by_job_seq", ["jobId", "seq"]),

  /**
   * Integration events (SPEC §8), one per (workspace, idempotencyKey). Inserted by
   * integrations.ts `ingestEvent` (ingest route and Slack), holding only what the workspace data
   * policy allowed (`none`: just the idempotency record); `triggers` is updated as each fired run
   * trigger finishes. Read by repeats of the same key and by trigger firing (template values).
   */
  integrationEvents: defineTable({
    workspaceId: v.id("workspaces"),
    source: v.string(),
    eventType: v.string(),
    idempotencyKey: v.string(),
    /** The policy in force when it was stored. */
    dataPolicy: dataPolicyValidator,
    receivedAt: v.number(),
    occurredAt: v.optional(v.number()),
    externalId: v.optional(v.string()),
    title: v.optional(v.string()),
    url: v.optional(v.string()),
    text: v.optional(v.string()),
    /** The payload as JSON text: any keys are allowed, which Convex field names are not. */
    payloadJson: v.optional(v.string()),
    contextItemId: v.optional(v.id("contextItems")),
    triggers: v.array(triggerOutcomeValidator),
  })
    .index("by_workspace_key", ["workspaceId", "idempotencyKey"])
    .index("by_workspace_received", ["workspaceId", "receivedAt"]),

  /**
   * Run triggers: managed by admins in the Console (runTriggers.ts). Type `event` (source and
   * eventType set) is read by ingest (matching, enabled) and when a fired trigger runs. Type
   * `schedule` (schedule set) fires by a chain of scheduled functions (runTriggerSchedule.ts):
   * while enabled, `nextRunAt` is its next firing and `scheduledFunctionId` the one call that
   * fires it; `scheduleGeneration` grows with every (re)arming so an older call does nothing.
   * The repair sweep finds enabled schedule triggers whose firing is overdue by `by_type_next`.
   */
  runTriggers: defineTable({
    workspaceId: v.id("workspaces"),
    name: v.string(),
    type: v.union(v.literal("event"), v.literal("schedule")),
    source: v.optional(v.string()),
    eventType: v.optional(v.string()),
    schedule: v.optional(scheduleValidator),
    enabled: v.boolean(),
    action: triggerActionValidator,
    nextRunAt: v.optional(v.number()),
    scheduledFunctionId: v.optional(v.id("_scheduled_functions")),
    scheduleGeneration: v.optional(v.number()),
    /** The last firing of a schedule trigger: when it was due, and what it did. */
    lastRun: v.optional(scheduledRunOutcomeValidator),
    createdBy: v.optional(v.id("users")),
    updatedAt: v.number(),
  })
    .index("by_workspace_match", ["workspaceId", "type", "source", "eventType", "enabled"])
    .index("by_type_next", ["type", "enabled", "nextRunAt"]),

  /** Slack team -> workspace. Managed by admins in the Console (slack.ts); read by the Slack route. */
  slackBindings: defineTable({
    teamId: v.string(),
    workspaceId: v.id("workspaces"),
    createdBy: v.optional(v.id("users")),
    updatedAt: v.number(),
  })
    .index("by_team", ["teamId"])
    .index("by_workspace", ["workspaceId"]),

  /**
   * The Context Lake (SPEC §8). Upserted by ingest (by source + externalId) and the Console
   * (contextLake.ts: create, edit, pin, promotion state). Read by pack building (contextPacks.ts)
   * and the Console. `searchText` (title + stored text) feeds the search index.
   */
  contextItems: defineTable({
    workspaceId: v.id("workspaces"),
    repoId: v.optional(v.id("repos")),
    runId: v.optional(v.id("runs")),
    source: v.string(),
    kind: v.string(),
    externalId: v.optional(v.string()),
    title: v.string(),
    text: v.optional(v.string()),
    url: v.optional(v.string()),
    pinned: v.boolean(),
    promotionState: promotionStateValidator,
    searchText: v.string(),
    updatedAt: v.number(),
  })
    .index("by_workspace_source_external", ["workspaceId", "source", "externalId"])
    .index("by_workspace_updated", ["workspaceId", "updatedAt"])
    .index("by_workspace_state_updated", ["workspaceId", "promotionState", "updatedAt"])
    .index("by_workspace_pinned_repo", ["workspaceId", "pinned", "repoId"])
    .index("by_workspace_run", ["workspaceId", "runId"])
    .searchIndex("search_text", { searchField: "searchText", filterFields: ["workspaceId"] }),

  /**
   * Context packs: written by `/v1/context-packs/build-run-v1` (contextPacks.ts) with every item
   * considered and its status; read by resolve-run-v1 (the latest of a run when no id is given).
   */
  contextPacks: defineTable({
    workspaceId: v.id("workspaces"),
    runId: v.id("runs"),
    items: v.array(packEntryValidator),
    maxItems: v.number(),
    maxTextBytes: v.number(),
    /** Hints given at build (`fresh_v1`), applied again by every resolve of this pack. */
    expansionHints: v.array(v.string()),
  })
    .index("by_workspace_run", ["workspaceId", "runId"])
    // Retention (retention.ts): packs by build time.
    .index("by_workspace", ["workspaceId"]),

  /**
   * Files stored by the Console (uploads.ts: generate upload URL, record). Read by
   * `/v1/uploads/get-download-url` and the Console.
   */
  uploads: defineTable({
    workspaceId: v.id("workspaces"),
    runId: v.optional(v.id("runs")),
    storageId: v.id("_storage"),
    fileName: v.string(),
    contentType: v.string(),
    sizeBytes: v.number(),
    uploadedBy: v.optional(v.id("users")),
  })
    .index("by_workspace", ["workspaceId"])
    .index("by_workspace_run", ["workspaceId", "runId"])
    .index("by_storage", ["storageId"]),

  /**
   * Retention settings of a workspace in days (SPEC §6), one row once an admin changed them (the
   * defaults of model/retention.ts apply before). Written by Console `retention.set`; read by
   * `retention.get` and by the retention sweep (retention.ts).
   */
  retentionSettings: defineTable({
    workspaceId: v.id("workspaces"),
    ...retentionSettingsValidator.fields,
    updatedAt: v.number(),
    updatedBy: v.optional(v.id("users")),
  }).index("by_workspace", ["workspaceId"]),

  /**
   * Outbound webhook endpoints (SPEC §9b), at most 10 per workspace. Written by the Console
   * (webhooks.ts: create, update, remove, rotate secret) and by the fan-out of each event
   * (webhookEvents.ts), which numbers the endpoint's deliveries with `deliverySeq`. Read by the
   * fan-out and by the delivery action (url, secret). The secret is stored encrypted (model/webhooks.ts).
   */
  webhookEndpoints: defineTable({
    workspaceId: v.id("workspaces"),
    url: v.string(),
    events: v.array(webhookEventTypeValidator),
    enabled: v.boolean(),
    description: v.optional(v.string()),
    secretCiphertext: v.string(),
    secretPrefix: v.string(),
    /** The `seq` of the endpoint's newest delivery (0 before the first). */
    deliverySeq: v.number(),
    createdBy: v.optional(v.id("users")),
    updatedAt: v.number(),
  }).index("by_workspace", ["workspaceId"]),

  /**
   * Which event types any enabled endpoint of a workspace wants: one small row, rewritten by the
   * Console whenever its endpoints change (webhooks.ts). Read by `queueWebhookEvent` in the
   * transactions that finish jobs, open decisions and finish runs, so those read one document
   * (none when the workspace has no endpoints) and schedule nothing unless someone listens.
   */
  webhookSubscriptions: defineTable({
    workspaceId: v.id("workspaces"),
    types: v.array(webhookEventTypeValidator),
  }).index("by_workspace", ["workspaceId"]),

  /**
   * One event for one endpoint: inserted by the fan-out (or "send test event"), updated by each
   * attempt of the delivery action (webhookDelivery.ts). The newest 100 per endpoint are kept; the
   * fan-out deletes finished ones past that. Read by the Console delivery list, the action and the
   * watchdog cron (`by_state_next`: pending deliveries whose attempt never reported).
   */
  webhookDeliveries: defineTable({
    workspaceId: v.id("workspaces"),
    endpointId: v.id("webhookEndpoints"),
    seq: v.number(),
    eventId: v.string(),
    type: webhookDeliveryTypeValidator,
    /** The exact JSON body every attempt sends (and signs). */
    body: v.string(),
    state: webhookDeliveryStateValidator,
    attempts: v.number(),
    nextAttemptAt: v.optional(v.number()),
    statusCode: v.optional(v.number()),
    latencyMs: v.optional(v.number()),
    error: v.optional(v.string()),
    finishedAt: v.optional(v.number()),
  })
    .index("by_endpoint_seq", ["endpointId", "seq"])
    .index("by_endpoint_state_seq", ["endpointId", "state", "seq"])
    .index("by_state_next", ["state", "nextAttemptAt"]),
});
