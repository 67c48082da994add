/**
 * Recurring run triggers (SPEC §6 "Scheduling"): a 5-field cron expression read in an IANA time
 * zone. Parsing and the next firing times come from `croner` (no Node APIs: it uses `Intl`), so
 * daylight-saving changes follow the zone's rules: a time that does not exist on a spring-forward
 * day fires at the first minute after the gap, and a time that occurs twice on a fall-back day
 * fires once.
 */
import { Cron } from "croner";
import { v, type Infer } from "convex/values";

export const scheduleValidator = v.object({
  /** Five fields: minute, hour, day of month, month, day of week (`0 9 * * 1-5`). */
  cron: v.string(),
  /** IANA time zone the fields are read in (`Europe/Berlin`, `UTC`). */
  timeZone: v.string(),
});
export type Schedule = Infer<typeof scheduleValidator>;

const MAX_CRON_LENGTH = 200;
/** How many upcoming firings the Console lists. */
export const UPCOMING_RUNS = 3;

export type ScheduleProblem = { path: "schedule.cron" | "schedule.timeZone"; message: string };

function cronOf(schedule: Schedule): Cron {
  // legacyMode: a day-of-month and a day-of-week both set match either (as in Vixie cron).
  return new Cron(schedule.cron.trim(), { timezone: schedule.timeZone, legacyMode: true, paused: true });
}

/** Why a schedule is unusable, or null: exactly 5 fields croner accepts, a known IANA zone, a future firing. */
export function scheduleProblem(schedule: Schedule): ScheduleProblem | null {
  const cron = schedule.cron.trim();
  if (cron === "" || cron.length > MAX_CRON_LENGTH)
    return { path: "schedule.cron", message: `must be 1–${MAX_CRON_LENGTH} characters.` };
  const fields = cron.split(/\s+/);
  if (fields.length !== 5)
    return {
      path: "schedule.cron",
      message: `must have exactly 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}.`,
    };
  if (!isTimeZone(schedule.timeZone))
    return { path: "schedule.timeZone", message: "must be an IANA time zone such as Europe/Berlin or UTC." };
  let cronJob: Cron;
  try {
    cronJob = cronOf({ cron, timeZone: schedule.timeZone });
  } catch (error) {
    return { path: "schedule.cron", message: `is not a valid cron expression (${messageOf(error)}).` };
  }
  if (cronJob.nextRun(new Date(0)) === null) return { path: "schedule.cron", message: "never fires." };
  return null;
}

function isTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "" || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone }).format(0);
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^CronPattern: /, "").slice(0, 200);
}

/**
 * The first `count` firing times strictly after `after` (ms since the epoch), earliest first;
 * fewer when the expression stops matching. The schedule must have passed `scheduleProblem`.
 */
export function nextRunTimes(schedule: Schedule, after: number, count: number): number[] {
  return cronOf(schedule)
    .nextRuns(count, new Date(after))
    .map((date) => date.getTime());
}

/** The next firing strictly after `after`, or null when there is none. */
export function nextRunAfter(schedule: Schedule, after: number): number | null {
  return nextRunTimes(schedule, after, 1)[0] ?? null;
}
