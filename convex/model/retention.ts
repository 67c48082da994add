/**
 * What a workspace keeps and for how long (SPEC §6 "Retention"): the settings, their defaults and
 * bounds, and the cutoff each one gives at a moment. Pure; retention.ts applies them.
 */
import { v, type Infer } from "convex/values";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Each setting in days, with its SPEC default and the range an admin may choose. */
export const RETENTION_RULES = {
  /** Finished jobs (done, failed, blocked, canceled) with their events and log lines, after `finishedAt`. */
  finishedJobsDays: { default: 30, min: 1, max: 3650 },
  /** Integration events, after they were received. */
  integrationEventsDays: { default: 30, min: 1, max: 3650 },
  /** Context packs, after they were built. */
  contextPacksDays: { default: 30, min: 1, max: 3650 },
  /** Workers not seen for this long (offline by then). */
  offlineWorkersDays: { default: 14, min: 1, max: 3650 },
  /** Minted tokens, counted from their expiry or their revocation. */
  endedTokensDays: { default: 30, min: 1, max: 3650 },
  /** Audit rows. At least 30 days, so an admin cannot erase the record of their own changes at once. */
  auditDays: { default: 365, min: 30, max: 3650 },
} as const;

export type RetentionField = keyof typeof RETENTION_RULES;
export const RETENTION_FIELDS = Object.keys(RETENTION_RULES) as RetentionField[];
export type RetentionSettings = Record<RetentionField, number>;

export const DEFAULT_RETENTION = Object.fromEntries(
  RETENTION_FIELDS.map((field) => [field, RETENTION_RULES[field].default]),
) as RetentionSettings;

/** The stored settings (every field present) and the Console's partial update. */
export const retentionSettingsValidator = v.object({
  finishedJobsDays: v.number(),
  integrationEventsDays: v.number(),
  contextPacksDays: v.number(),
  offlineWorkersDays: v.number(),
  endedTokensDays: v.number(),
  auditDays: v.number(),
} satisfies Record<RetentionField, unknown>);
export const retentionChangesValidator = retentionSettingsValidator.partial();
export type RetentionChanges = Infer<typeof retentionChangesValidator>;

/** Why a change is refused (`{field, message}`), or null when every value sent is a whole number in range. */
export function retentionProblem(changes: RetentionChanges): { field: RetentionField; message: string } | null {
  for (const field of RETENTION_FIELDS) {
    const value = changes[field];
    if (value === undefined) continue;
    const { min, max } = RETENTION_RULES[field];
    if (!Number.isInteger(value) || value < min || value > max) {
      return { field, message: `must be a whole number of days from ${min} to ${max}.` };
    }
  }
  return null;
}

/** The moment before which each kind of row is expired under `settings`. */
export function retentionCutoffs(settings: RetentionSettings, now: number): Record<RetentionField, number> {
  return Object.fromEntries(RETENTION_FIELDS.map((field) => [field, now - settings[field] * DAY_MS])) as Record<
    RetentionField,
    number
  >;
}
