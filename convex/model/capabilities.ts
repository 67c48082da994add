/**
 * What a worker advertises on heartbeat (SPEC §6 "Workers", §12): the known capability keys,
 * typed and used by matching, and the unknown scalar keys workers add over time, kept within
 * bounds instead of refused or silently lost.
 */
import { v, type Infer } from "convex/values";
import { utf8Bytes } from "./jobs";

/** The known capabilities. `reposAllowed` holds repo ids of the worker's workspace. */
export const capabilitiesValidator = v.object({
  reposAllowed: v.optional(v.array(v.string())),
  executionModes: v.optional(v.array(v.string())),
  models: v.optional(v.array(v.string())),
  canWrite: v.optional(v.boolean()),
  canUseNetwork: v.optional(v.boolean()),
  supportedEgressModes: v.optional(v.array(v.string())),
  supportsRunTests: v.optional(v.boolean()),
  /** Job `modelPolicy` values this worker enforces; absent: it enforces any policy itself. */
  modelPolicies: v.optional(v.array(v.string())),
  /** The runner's hash of the network allowlist it enforces (null when none). Shown, not matched. */
  enforcedAllowlistHash: v.optional(v.union(v.string(), v.null())),
  /** How the runner authenticates to OpenAI (for example `codex_cli_sso_supervised`). Shown, not matched. */
  openaiAuthMode: v.optional(v.string()),
  /** The most jobs the worker holds at once (SPEC §6 "Concurrency"); absent: unlimited. */
  maxConcurrentJobs: v.optional(v.number()),
});
export type Capabilities = Infer<typeof capabilitiesValidator>;

export const KNOWN_CAPABILITY_KEYS: readonly string[] = Object.keys(capabilitiesValidator.fields);

/** Unknown capability keys a worker keeps at most, and the longest key and string value (UTF-8 bytes). */
export const MAX_EXTRA_CAPABILITIES = 32;
export const MAX_EXTRA_CAPABILITY_BYTES = 200;

export const extraCapabilitiesValidator = v.record(v.string(), v.union(v.string(), v.number(), v.boolean()));
export type ExtraCapabilities = Infer<typeof extraCapabilitiesValidator>;

const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** A key Convex can store as a field name (printable ASCII, not `$…` or `_…`) within the byte bound. */
function keepableKey(key: string): boolean {
  return key.length > 0 && key.length <= MAX_EXTRA_CAPABILITY_BYTES && /^[\x20-\x7e]+$/.test(key) && !/^[$_]/.test(key);
}

function keepableValue(value: unknown): value is string | number | boolean {
  if (typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" && !UNPAIRED_SURROGATE.test(value) && utf8Bytes(value) <= MAX_EXTRA_CAPABILITY_BYTES;
}

/**
 * The unknown capability keys kept from a heartbeat: scalar values (string, number, boolean) only,
 * keys and string values of at most 200 bytes, keys Convex can store; of those, the first 32 in
 * sorted key order, so the same capabilities keep the same keys whatever order they were sent
 * in. Everything else is dropped, never refused.
 */
export function keptExtraCapabilities(sent: Record<string, unknown>): ExtraCapabilities {
  const eligible = Object.keys(sent)
    .filter((key) => !KNOWN_CAPABILITY_KEYS.includes(key) && keepableKey(key) && keepableValue(sent[key]))
    .sort();
  return Object.fromEntries(
    eligible.slice(0, MAX_EXTRA_CAPABILITIES).map((key) => [key, sent[key] as string | number | boolean]),
  );
}

/** A heartbeat's capabilities (known keys already checked by the route schema) as stored: typed known keys, kept extras. */
export function splitCapabilities(sent: Capabilities & Record<string, unknown>): {
  capabilities: Capabilities;
  extraCapabilities: ExtraCapabilities;
} {
  const known = Object.entries(sent).filter(([key]) => KNOWN_CAPABILITY_KEYS.includes(key));
  return { capabilities: Object.fromEntries(known) as Capabilities, extraCapabilities: keptExtraCapabilities(sent) };
}

/** Capabilities as listed: the known ones and the kept unknown ones in one object, as the worker sent them. */
export function listedCapabilities(capabilities: Capabilities, extra: ExtraCapabilities | undefined) {
  return { ...extra, ...capabilities };
}
