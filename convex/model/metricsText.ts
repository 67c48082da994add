/**
 * `/control-plane/metrics` as the Prometheus text exposition format (version 0.0.4): the metric
 * families, their labels and how they are written. The numbers come from metrics.ts; the names
 * and what each counts are listed in docs/operations.md.
 */
import { MAX_PENDING_DELTAS_READ, type LaneCounts } from "./jobCounters";
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
  /**
   * Counter changes not yet folded into the totals, all added into the numbers above (jobCounters.ts);
   * at MAX_PENDING_DELTAS_READ more may wait, and the numbers lag by those.
   */
  pendingCounterDeltas: number;
};

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number };
type Family = { name: string; help: string; type: "gauge" | "counter"; samples: Sample[] };

/** One sample per entry of `record`, its key under `label`. */
const perKey = (labels: Labels, label: string, record: Record<string, number>): Sample[] =>
  Object.entries(record).map(([key, value]) => ({ labels: { ...labels, [label]: key }, value }));

/** The families of one lane's numbers: name, type, help, and the samples of a (workspace, lane). */
const LANE_FAMILIES: Array<
  [string, Family["type"], string, (stats: LaneStats, labels: Labels, now: number) => Sample[]]
> = [
  ["ias_jobs", "gauge", "Jobs in each status now.", (stats, labels) => perKey(labels, "status", stats.jobs)],
  ["ias_jobs_enqueued_total", "counter", "Jobs created.", (stats, labels) => [{ labels, value: stats.enqueued }]],
  [
    "ias_job_claims_total",
    "counter",
    "Jobs handed to a worker by claim-next.",
    (stats, labels) => [{ labels, value: stats.claims }],
  ],
  [
    "ias_job_completions_total",
    "counter",
    "Running jobs completed, by outcome (the worker's report, or the server's on its behalf).",
    (stats, labels) => perKey(labels, "outcome", stats.completions),
  ],
  [
    "ias_job_failures_total",
    "counter",
    "Jobs that became failed, whatever failed them (a completion, a lease lost for good).",
    (stats, labels) => [{ labels, value: stats.failures }],
  ],
  [
    "ias_job_recoveries_total",
    "counter",
    "Expired leases recovered, by the status the job went to.",
    (stats, labels) => perKey(labels, "to", stats.recoveries),
  ],
  [
    "ias_job_retries_total",
    "counter",
    "Finished jobs put back in line (retry).",
    (stats, labels) => [{ labels, value: stats.retries }],
  ],
  [
    "ias_job_transitions_total",
    "counter",
    "Every status change, by from, to and the event recording it (from=new: a birth).",
    (stats, labels) =>
      stats.transitions.map(({ count, ...move }) => ({ labels: { ...labels, ...move }, value: count })),
  ],
  [
    "ias_job_oldest_pending_age_seconds",
    "gauge",
    "How long the pending job waiting longest has waited (0 when none waits).",
    (stats, labels, now) => [
      { labels, value: stats.oldestPendingSince === null ? 0 : Math.max(0, now - stats.oldestPendingSince) / 1000 },
    ],
  ],
];

/** Every family, with a sample for each workspace and lane (zeros included, so series do not appear and vanish). */
export function metricFamilies(workspaces: readonly WorkspaceStats[], now: number): Family[] {
  const laneFamilies: Family[] = LANE_FAMILIES.map(([name, type, help, samplesOf]) => ({
    name,
    type,
    help,
    samples: workspaces.flatMap((workspace) =>
      LANES.flatMap((lane) =>
        samplesOf(workspace.lanes[lane], { workspace: workspace.slug, workspace_id: workspace.workspaceId, lane }, now),
      ),
    ),
  }));
  const workers: Family = {
    name: "ias_workers_online",
    type: "gauge",
    help: "Workers flagged online (seen in the last 60 s).",
    samples: workspaces.map((workspace) => ({
      labels: { workspace: workspace.slug, workspace_id: workspace.workspaceId },
      value: workspace.workersOnline,
    })),
  };
  const pending: Family = {
    name: "ias_job_counter_pending_deltas",
    type: "gauge",
    help: `Job counter changes not yet folded into the totals, all counted in the numbers above (at most ${MAX_PENDING_DELTAS_READ} read: at that value more may wait and the numbers lag).`,
    samples: workspaces.map((workspace) => ({
      labels: { workspace: workspace.slug, workspace_id: workspace.workspaceId },
      value: workspace.pendingCounterDeltas,
    })),
  };
  return [...laneFamilies, workers, pending];
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
