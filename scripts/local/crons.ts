/**
 * Runs the jobs of `convex/crons.ts` (a `cronJobs()` object), which convex-test does not. Each
 * job is a chain of timers: like Convex, a run that is still going when the next is due makes
 * that next run skip, and a failure is logged without stopping the schedule.
 */
import { jsonToConvex, type JSONValue, type Value } from "convex/values";
import { messageOf } from "./messageOf";

export type CronSchedule =
  | { type: "interval"; seconds?: number; minutes?: number; hours?: number }
  | { type: "hourly"; minuteUTC?: number }
  | { type: "daily"; hourUTC: number; minuteUTC?: number }
  | { type: "weekly"; dayOfWeek: string; hourUTC: number; minuteUTC?: number }
  | { type: "monthly"; day: number; hourUTC: number; minuteUTC?: number }
  | { type: "cron"; cron: string };

/** The shape `cronJobs()` builds in `.crons` (convex/dist/esm/server/cron.js). */
export type CronSpec = { name: string; args: JSONValue[]; schedule: CronSchedule };
export type CronCall = (udfPath: string, args: Record<string, Value>) => Promise<unknown>;

const MINUTE_MS = 60_000;
const MAX_TIMER_MS = 2_147_483_647;
const DAYS_OF_WEEK = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

export function startCronRunner(
  crons: { crons: Record<string, CronSpec> },
  call: CronCall,
  log: (message: string) => void,
) {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<string>();
  let stopped = false;

  const arm = (identifier: string, spec: CronSpec, after: number) => {
    const due = nextRunAfter(spec.schedule, after);
    if (due === null) {
      log(`Cron "${identifier}": schedule ${JSON.stringify(spec.schedule)} is not supported in local mode; skipped.`);
      return;
    }
    const wait = () => {
      const remaining = due - Date.now();
      timers.set(
        identifier,
        setTimeout(remaining > MAX_TIMER_MS ? wait : fire, Math.min(Math.max(0, remaining), MAX_TIMER_MS)),
      );
    };
    const fire = () => {
      if (stopped) return;
      arm(identifier, spec, Math.max(due, Date.now()));
      if (running.has(identifier)) {
        log(`Cron "${identifier}": previous run still in progress; skipping this one.`);
        return;
      }
      running.add(identifier);
      const args = (spec.args[0] === undefined ? {} : jsonToConvex(spec.args[0])) as Record<string, Value>;
      call(spec.name, args)
        .catch((error) => log(`Cron "${identifier}" (${spec.name}) failed: ${messageOf(error)}`))
        .finally(() => running.delete(identifier));
    };
    wait();
  };

  const now = Date.now();
  for (const [identifier, spec] of Object.entries(crons.crons)) arm(identifier, spec, now);
  return {
    identifiers: Object.keys(crons.crons),
    stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** The first time strictly after `after` (ms) the schedule is due, or null when unsupported. */
export function nextRunAfter(schedule: CronSchedule, after: number): number | null {
  if (schedule.type === "interval") {
    const ms = ((schedule.seconds ?? 0) + (schedule.minutes ?? 0) * 60 + (schedule.hours ?? 0) * 3600) * 1000;
    return ms > 0 ? after + ms : null;
  }
  const matches = calendarMatcher(schedule);
  if (matches === null) return null;
  // Minute by minute over one year is cheap (runs once per cron run) and needs no date math.
  let minute = Math.floor(after / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  for (let i = 0; i < 366 * 24 * 60; i++, minute += MINUTE_MS) {
    if (matches(new Date(minute))) return minute;
  }
  return null;
}

type Matcher = (at: Date) => boolean;

function calendarMatcher(schedule: Exclude<CronSchedule, { type: "interval" }>): Matcher | null {
  switch (schedule.type) {
    case "hourly":
      return (at) => at.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "daily":
      return (at) => at.getUTCHours() === schedule.hourUTC && at.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "weekly": {
      const day = DAYS_OF_WEEK.indexOf(schedule.dayOfWeek);
      return (at) =>
        at.getUTCDay() === day &&
        at.getUTCHours() === schedule.hourUTC &&
        at.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    }
    case "monthly":
      return (at) =>
        at.getUTCDate() === schedule.day &&
        at.getUTCHours() === schedule.hourUTC &&
        at.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "cron":
      return cronMatcher(schedule.cron);
    default:
      return null;
  }
}

/** Numeric five-field cron (`m h dom mon dow`, UTC). Names like MON are not supported. */
export function cronMatcher(expression: string): Matcher | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const ranges: Array<[number, number]> = [
    [0, 59],
    [0, 23],
    [1, 31],
    [1, 12],
    [0, 7],
  ];
  const sets = fields.map((field, i) => cronField(field, ...ranges[i]!));
  if (sets.some((set) => set === null)) return null;
  const [minutes, hours, days, months, weekdays] = sets as Set<number>[];
  if (weekdays!.has(7)) weekdays!.add(0);
  const dayRestricted = fields[2] !== "*";
  const weekdayRestricted = fields[4] !== "*";
  return (at) => {
    const dayOk = days!.has(at.getUTCDate());
    const weekdayOk = weekdays!.has(at.getUTCDay());
    // Classic cron: when both day fields are restricted, either one may match.
    const dateOk = dayRestricted && weekdayRestricted ? dayOk || weekdayOk : dayOk && weekdayOk;
    return (
      minutes!.has(at.getUTCMinutes()) && hours!.has(at.getUTCHours()) && months!.has(at.getUTCMonth() + 1) && dateOk
    );
  };
}

function cronField(field: string, min: number, max: number): Set<number> | null {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (match === null) return null;
    const from = match[1] === "*" ? min : Number(match[2]);
    const to = match[1] === "*" ? max : match[3] !== undefined ? Number(match[3]) : match[4] ? max : from;
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return null;
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}
