/**
 * What a job's command is told: the job as `IAS_JOB_*` variables, and `IAS_JOB_TOKEN` (this
 * claim's job token, for `ias job …`) in place of the worker's own token, which is withheld; and
 * how its exit is described in the outcome.
 */
import type { Exit } from "./job-process";
import type { JobRunOptions } from "./job-run";
import { apiBaseUrl } from "./url";

/** Variables never passed to the job command: the worker's own credentials, an outer job's token. */
const WITHHELD_ENV = new Set(["IAS_TOKEN", "IAS_JOB_TOKEN"]);

export function jobEnvironment({ claim, workspaceId, workerId, client }: JobRunOptions): NodeJS.ProcessEnv {
  const { job } = claim;
  const inherited = Object.entries(process.env).filter(
    ([name, value]) => !WITHHELD_ENV.has(name) && !(value && client.revealsToken(value)),
  );
  const forJob = {
    IAS_JOB_ID: job._id,
    IAS_JOB_KIND: job.kind,
    IAS_JOB_ROLE: job.role,
    IAS_JOB_PROMPT: job.prompt,
    IAS_JOB_REPO_ID: job.repoId,
    IAS_JOB_RUN_ID: job.runId ?? "",
    IAS_JOB_ATTEMPT: String(job.attempts),
    IAS_JOB_REQUIREMENTS: JSON.stringify(job.requirements ?? {}),
    IAS_CLAIM_GENERATION: String(claim.claimGeneration),
    IAS_WORKSPACE_ID: workspaceId,
    IAS_WORKER_ID: workerId,
    IAS_CONTROL_PLANE_URL: apiBaseUrl(client.siteUrl),
    ...(claim.jobToken === undefined ? {} : { IAS_JOB_TOKEN: claim.jobToken }),
  };
  // The OS refuses NUL in environment values; the exact prompt is on stdin.
  return Object.fromEntries([
    ...inherited,
    ...Object.entries(forJob).map(([name, value]) => [name, String(value ?? "").replaceAll("\0", "")]),
  ]);
}

export function describeExit(outcome: string, exit: Exit, lastStderr: string): string {
  const how = exit.signal ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
  if (outcome === "canceled") return `Canceled on request; the command ${how}.`;
  const tail = outcome === "failed" && lastStderr ? `: ${lastStderr.slice(0, 1_000)}` : ".";
  return `The command ${how}${tail}`;
}

export function exitReason(exit: Exit): string {
  return exit.signal ? `signal_${exit.signal}` : `exit_code_${exit.code}`;
}
