/**
 * Which worker may take which job (SPEC §6 "Matching"), as pure functions: a job's
 * `requirements` against a worker's `capabilities`, and the canonical requirements signature the
 * queue groups pending jobs by (model/queueHeads.ts).
 */
import { v, type Infer } from "convex/values";
import { utf8Bytes } from "./jobs";

/** The only requirement keys a job may carry; enqueue rejects others. */
export const REQUIREMENT_KEYS = [
  "executionMode",
  "model",
  "canWrite",
  "canUseNetwork",
  "egressMode",
  "runTests",
] as const;

export const requirementsValidator = v.object({
  executionMode: v.optional(v.string()),
  model: v.optional(v.string()),
  canWrite: v.optional(v.boolean()),
  canUseNetwork: v.optional(v.boolean()),
  egressMode: v.optional(v.string()),
  runTests: v.optional(v.boolean()),
});
export type Requirements = Infer<typeof requirementsValidator>;

/** What a worker advertises on heartbeat. `reposAllowed` holds repo ids of its workspace. */
export const capabilitiesValidator = v.object({
  reposAllowed: v.optional(v.array(v.string())),
  executionModes: v.optional(v.array(v.string())),
  models: v.optional(v.array(v.string())),
  canWrite: v.optional(v.boolean()),
  canUseNetwork: v.optional(v.boolean()),
  supportedEgressModes: v.optional(v.array(v.string())),
  supportsRunTests: v.optional(v.boolean()),
});
export type Capabilities = Infer<typeof capabilitiesValidator>;

/** Whether a worker with `capabilities` meets every requirement a job states. */
export function meetsRequirements(requirements: Requirements, capabilities: Capabilities): boolean {
  const within = (value: string | undefined, allowed: string[] | undefined) =>
    value === undefined || (allowed ?? []).includes(value);
  const granted = (needed: boolean | undefined, has: boolean | undefined) => needed !== true || has === true;
  return (
    within(requirements.executionMode, capabilities.executionModes) &&
    within(requirements.model, capabilities.models) &&
    within(requirements.egressMode, capabilities.supportedEgressModes) &&
    granted(requirements.canWrite, capabilities.canWrite) &&
    granted(requirements.canUseNetwork, capabilities.canUseNetwork) &&
    granted(requirements.runTests, capabilities.supportsRunTests)
  );
}

/**
 * A canonical string for what a job demands: equal for requirements that match exactly the same
 * workers (`canWrite: false` demands nothing, so it is left out; keys are sorted).
 */
export function requirementsKey(requirements: Requirements): string {
  const demanded = REQUIREMENT_KEYS.filter((key) => {
    const value = requirements[key];
    return value !== undefined && value !== false;
  }).map((key) => [key, requirements[key]]);
  return JSON.stringify(Object.fromEntries(demanded));
}

/** The requirements a `requirementsKey` stands for (what the claim directory matches on). */
export function requirementsOfKey(key: string): Requirements {
  return JSON.parse(key) as Requirements;
}

/** Longest requirement value, in UTF-8 bytes: they are copied into the claim directory. */
export const MAX_REQUIREMENT_BYTES = 200;

/** The first string requirement longer than MAX_REQUIREMENT_BYTES, or null. */
export function oversizedRequirement(requirements: Requirements): string | null {
  for (const key of REQUIREMENT_KEYS) {
    const value = requirements[key];
    if (typeof value === "string" && utf8Bytes(value) > MAX_REQUIREMENT_BYTES) return key;
  }
  return null;
}

/** Keys of a client-sent object that are not requirement keys (enqueue rejects them). */
export function unknownRequirementKeys(requirements: Record<string, unknown>): string[] {
  return Object.keys(requirements).filter((key) => !(REQUIREMENT_KEYS as readonly string[]).includes(key));
}
