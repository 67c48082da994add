import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

// Safety net for lost-lease timers (recovery.ts): expired leases are recovered within 5 s.
crons.interval("recover expired leases", { seconds: 5 }, internal.recovery.sweepExpiredLeases, {});

export default crons;
