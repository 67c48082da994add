/**
 * Which worker may take which job (SPEC §6 "Matching", §12), as pure functions: requirements as
 * clients send them (either spelling) turned into the one canonical form that is stored, the
 * view handed back to workers (both spellings), a job's requirements against a worker's
 * capabilities, and the canonical requirements signature the queue groups pending jobs by
 * (convex/queue.ts).
 */
import { v, type Infer } from "convex/values";
import type { Capabilities } from "./capabilities";
import { utf8Bytes } from "./jobs";

/**
 * The canonical requirement keys, as stored. The order is the order of `requirementsKey`: new keys
 * go at the end, so the stream keys of jobs already waiting stay what they were.
 */
export const REQUIREMENT_KEYS = [
  "executionMode",
  "model",
  "canWrite",
  "canUseNetwork",
  "egressMode",
  "runTests",
  "modelPolicy",
] as const;

/** The deployed runner's spellings (SPEC §12) and the canonical key each means. */
export const REQUIREMENT_ALIASES = { writeRequired: "canWrite", networkRequired: "canUseNetwork" } as const;
type Alias = keyof typeof REQUIREMENT_ALIASES;
const ALIASES = Object.keys(REQUIREMENT_ALIASES) as Alias[];

/** Every key enqueue accepts in `requirements`; others are refused with this list. */
export const ACCEPTED_REQUIREMENT_KEYS: readonly string[] = [...REQUIREMENT_KEYS, ...ALIASES];

const canonicalFields = {
  executionMode: v.optional(v.string()),
  model: v.optional(v.string()),
  canWrite: v.optional(v.boolean()),
  canUseNetwork: v.optional(v.boolean()),
  egressMode: v.optional(v.string()),
  runTests: v.optional(v.boolean()),
  modelPolicy: v.optional(v.string()),
};

/** Requirements as stored on a job: canonical keys only. */
export const requirementsValidator = v.object(canonicalFields);
export type Requirements = Infer<typeof requirementsValidator>;

/** Requirements as a client may send them: canonical keys and the runner's spellings. */
export const requirementsInputValidator = v.object({
  ...canonicalFields,
  writeRequired: v.optional(v.boolean()),
  networkRequired: v.optional(v.boolean()),
});
export type RequirementsInput = Infer<typeof requirementsInputValidator>;

/** The first key sent in both spellings with different values (`writeRequired: true, canWrite: false`), or null. */
export function conflictingRequirement(input: Partial<Record<string, unknown>>): Alias | null {
  for (const alias of ALIASES) {
    const canonical = REQUIREMENT_ALIASES[alias];
    if (input[alias] !== undefined && input[canonical] !== undefined && input[alias] !== input[canonical]) return alias;
  }
  return null;
}

/**
 * The canonical form of client-sent requirements: each runner spelling folded into its canonical
 * key. Call `conflictingRequirement` first; on a conflict the canonical spelling wins here.
 */
export function canonicalRequirements(input: RequirementsInput): Requirements {
  const { writeRequired, networkRequired, ...canonical } = input;
  const folded: Requirements = { ...canonical };
  if (folded.canWrite === undefined && writeRequired !== undefined) folded.canWrite = writeRequired;
  if (folded.canUseNetwork === undefined && networkRequired !== undefined) folded.canUseNetwork = networkRequired;
  return folded;
}

/**
 * Requirements as handed to workers and the Console: both spellings with the same value
 * (`writeRequired` and `canWrite`, `networkRequired` and `canUseNetwork`), so a worker reading
 * either reads them right. A key demanded in neither spelling stays absent in both.
 */
export function requirementsForWorkers(requirements: Requirements): RequirementsInput {
  const view: RequirementsInput = { ...requirements };
  for (const alias of ALIASES) {
    const value = requirements[REQUIREMENT_ALIASES[alias]];
    if (value !== undefined) view[alias] = value;
  }
  return view;
}

/**
 * Whether a worker with `capabilities` meets every requirement a job states. `modelPolicy` is
 * checked only against a worker that lists `modelPolicies`: one that lists none (the deployed
 * runner) is trusted to enforce the policy itself (SPEC §6).
 */
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
    granted(requirements.runTests, capabilities.supportsRunTests) &&
    (capabilities.modelPolicies === undefined || within(requirements.modelPolicy, capabilities.modelPolicies))
  );
}

/**
 * A canonical string for what a job demands: equal for requirements that match exactly the same
 * workers (`canWrite: false` demands nothing, so it is left out; keys in REQUIREMENT_KEYS order).
 * Takes the canonical form, so both spellings of one requirement set give one key (one stream).
 */
export function requirementsKey(requirements: Requirements): string {
  const demanded = REQUIREMENT_KEYS.filter((key) => {
    const value = requirements[key];
    return value !== undefined && value !== false;
  }).map((key) => [key, requirements[key]]);
  return JSON.stringify(Object.fromEntries(demanded));
}

/** Longest requirement value, in UTF-8 bytes: they are part of the `by_queue` index key (requirementsKey). */
export const MAX_REQUIREMENT_BYTES = 200;

/** The first string requirement longer than MAX_REQUIREMENT_BYTES, or null. */
export function oversizedRequirement(requirements: Requirements): string | null {
  for (const key of REQUIREMENT_KEYS) {
    const value = requirements[key];
    if (typeof value === "string" && utf8Bytes(value) > MAX_REQUIREMENT_BYTES) return key;
  }
  return null;
}

/** Keys of a client-sent object that enqueue does not accept (it refuses them, listing ACCEPTED_REQUIREMENT_KEYS). */
export function unknownRequirementKeys(requirements: Record<string, unknown>): string[] {
  return Object.keys(requirements).filter((key) => !ACCEPTED_REQUIREMENT_KEYS.includes(key));
}

/**
 * What is wrong with client-sent requirements (unknown keys, the two spellings of one key
 * disagreeing, an oversized value), as the path under `requirements` and a message; or null.
 */
export function requirementsProblem(sent: Record<string, unknown>): { key?: string; message: string } | null {
  const unknownKeys = unknownRequirementKeys(sent);
  if (unknownKeys.length > 0) return { message: unknownRequirementsMessage(unknownKeys) };
  const conflict = conflictingRequirement(sent);
  if (conflict !== null)
    return { key: conflict, message: `must equal ${REQUIREMENT_ALIASES[conflict]} when both are sent.` };
  const oversized = oversizedRequirement(sent as Requirements);
  if (oversized !== null) return { key: oversized, message: `must be at most ${MAX_REQUIREMENT_BYTES} bytes.` };
  return null;
}

/** The message for unknown requirement keys, naming the accepted ones. */
export function unknownRequirementsMessage(keys: readonly string[]): string {
  const quoted = keys.map((key) => JSON.stringify(key)).join(", ");
  return `unknown requirement key${keys.length === 1 ? "" : "s"} ${quoted}; accepted keys: ${ACCEPTED_REQUIREMENT_KEYS.join(", ")}.`;
}
