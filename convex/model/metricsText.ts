/**
 * `/control-plane/metrics` as the Prometheus text exposition format (version 0.0.4): the metric
 * families, their labels and how they are written. The numbers come from metrics.ts; the names
 * and what each counts are listed in docs/operations.md.
 */
import type { LaneCounts } from "./jobCounters";
import { LANES, type Lane } from "./jobs";

/** What metrics.ts reads for one workspace (also the Console `stats` answer). */
export type LaneStats = LaneCounts & {
  /** When the pending job waiting longest became pending (ms), or null when none waits. */
  oldestPendingSince: number | null;
};
export type WorkspaceStats = {
  workspaceId: string;
  slug: string;
  lanes: Record<Lane, LaneStats>;
  /** Workers flagged online (capped at MAX_COUNTED_WORKERS). */
  workersOnline: number;
};

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Family = {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: Array<{ labels: Labels; value: number }>;
};

/** Every family, with a sample for each workspace and lane (zeros included, so series do not appear and vanish). */
export function metricFamilies(workspaces: readonly WorkspaceStats[], now: number): Family[] {
  const family = (name: string, type: Family["type"], help: string): Family => ({ name, help, type, samples: [] });
  const jobs = family("ias_jobs", "gauge", "Jobs in each status now.");
  const enqueued = family("ias_jobs_enqueued_total", "counter", "Jobs created.");
  const claims = family("ias_job_claims_total", "counter", "Jobs handed to a worker by claim-next.");
  const completions = family(
    "ias_job_completions_total",
    "counter",
    "Running jobs completed, by outcome (the worker's report, or the server's on its behalf).",
  );
  const failures = family(
    "ias_job_failures_total",
    "counter",
    "Jobs that became failed, whatever failed them (a completion, a lease lost for good).",
  );
  const recoveries = family(
    "ias_job_recoveries_total",
    "counter",
    "Expired leases recovered, by the status the job went to.",
  );
  const retries = family("ias_job_retries_total", "counter", "Finished jobs put back in line (retry).");
  const transitions = family(
    "ias_job_transitions_total",
    "counter",
    "Every status change, by from, to and the event recording it (from=new: a birth).",
  );
  const oldest = family(
    "ias_job_oldest_pending_age_seconds",
    "gauge",
    "How long the pending job waiting longest has waited (0 when none waits).",
  );
  const workers = family("ias_workers_online", "gauge", "Workers flagged online (seen in the last 60 s).");

  for (const workspace of workspaces) {
    const base = { workspace: workspace.slug, workspace_id: workspace.workspaceId };
    workers.samples.push({ labels: base, value: workspace.workersOnline });
    for (const lane of LANES) {
      const stats = workspace.lanes[lane];
      const labels = { ...base, lane };
      for (const [status, count] of Object.entries(stats.jobs))
        jobs.samples.push({ labels: { ...labels, status }, value: count });
      enqueued.samples.push({ labels, value: stats.enqueued });
      claims.samples.push({ labels, value: stats.claims });
      for (const [outcome, count] of Object.entries(stats.completions))
        completions.samples.push({ labels: { ...labels, outcome }, value: count });
      failures.samples.push({ labels, value: stats.failures });
      for (const [to, count] of Object.entries(stats.recoveries))
        recoveries.samples.push({ labels: { ...labels, to }, value: count });
      retries.samples.push({ labels, value: stats.retries });
      for (const { from, to, event, count } of stats.transitions)
        transitions.samples.push({ labels: { ...labels, from, to, event }, value: count });
      const waited = stats.oldestPendingSince === null ? 0 : Math.max(0, now - stats.oldestPendingSince) / 1000;
      oldest.samples.push({ labels, value: waited });
    }
  }
  return [jobs, enqueued, claims, completions, failures, recoveries, retries, transitions, oldest, workers];
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The families in the text format: `# HELP`, `# TYPE`, then one line per sample. */
export function exposition(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const { name, help, type, samples } of families) {
    lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const { labels, value } of samples) {
      const pairs = Object.entries(labels).map(([key, text]) => `${key}="${escapeLabel(text)}"`);
      lines.push(`${name}${pairs.length === 0 ? "" : `{${pairs.join(",")}}`} ${String(value)}`);
    }
  }
  return lines.join("\n") + "\n";
}
