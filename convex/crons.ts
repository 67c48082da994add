import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
import { ROLLUP_INTERVAL_SECONDS } from "./jobCounters";

const crons = cronJobs();

// Safety net for lost-lease timers (recovery.ts): expired leases are recovered within 5 s.
crons.interval("recover expired leases", { seconds: 5 }, internal.recovery.sweepExpiredLeases, {});
// Safety net for release timers of delayed jobs and retries (scheduling.ts).
crons.interval("release due scheduled jobs", { seconds: 5 }, internal.scheduling.sweepDueJobs, {});
// Workers silent for 60 s stop being shown online (workers.ts; Console queries never read the clock).
crons.interval("mark silent workers offline", { seconds: 5 }, internal.workers.markSilentWorkersOffline, {});
// Expired tokens are marked so the Console lists show it without reading the clock (tokens.ts).
crons.interval("mark expired tokens", { minutes: 1 }, internal.tokens.markExpiredTokens, {});
// Job counter deltas are folded into their (workspace, lane) totals (jobCounters.ts; going on at once while a backlog remains).
crons.interval("fold job counter deltas", { seconds: ROLLUP_INTERVAL_SECONDS }, internal.jobCounters.rollup, {});
// Device logins and their secret hashes are deleted an hour after they expire (deviceSessions.ts).
crons.interval("scrub finished device logins", { minutes: 10 }, internal.deviceSessions.scrubFinished, {});
// Rate-limit buckets idle long enough to be full again carry no information (rateLimits.ts).
crons.interval("sweep idle rate-limit buckets", { minutes: 10 }, internal.rateLimits.sweepIdleBuckets, {});
// Retention (retention.ts): expired finished jobs and their events, old integration events, packs,
// offline workers, ended tokens and audit rows, per each workspace's settings.
crons.interval("apply retention", { hours: 1 }, internal.retention.sweepAll, {});
// Webhook attempts that never reported (an action runs at most once) are sent again (webhookDelivery.ts).
crons.interval("resend stalled webhook deliveries", { minutes: 1 }, internal.webhookDelivery.resendStalled, {});
// Schedule run triggers whose firing call ended without firing are fired again (runTriggerSchedule.ts).
crons.interval("repair stalled schedule triggers", { minutes: 1 }, internal.runTriggerSchedule.repairStalled, {});

export default crons;
