/**
 * One job: its fields, outcome and reason, cancel and retry, and its timeline with log lines
 * as they arrive (usePaginatedQuery over jobsConsole.events: the last page grows live).
 */
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useState } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Id } from "../../../../convex/_generated/dataModel";
import { RETRYABLE_STATUSES } from "../../../../convex/model/jobStates";
import { Badge, LoadMore, ErrorNote, Fields, Loading, useNow } from "../components";
import { clockTime, relativeTime, shortId, shownValue } from "../format";
import { linkTo } from "../navigation";
import { canChange, useWorkspace } from "../workspace";

type JobEvent = { seq: number; type: string; at: number; message?: string; data?: unknown };

function logLines(event: JobEvent): string[] {
  const lines = (event.data as { lines?: unknown } | undefined)?.lines;
  return Array.isArray(lines) ? lines.map(String) : [];
}

function Timeline({ jobId }: { jobId: Id<"jobs"> }) {
  const workspace = useWorkspace();
  const { results, status, loadMore } = usePaginatedQuery(
    api.jobsConsole.events,
    { workspaceId: workspace._id, jobId },
    { initialNumItems: 100 },
  );
  if (status === "LoadingFirstPage") return <Loading what="the timeline" />;
  return (
    <>
      <ol className="timeline" aria-label="Timeline" aria-live="polite">
        {results.map((event) => (
          <li key={event.seq} className={`event event-${event.type}`}>
            <span className="when" title={clockTime(event.at)}>
              {clockTime(event.at).slice(11)}
            </span>{" "}
            <Badge value={event.type} />
            {event.message && <span className="message"> {event.message}</span>}
            {event.type === "log" ? (
              <pre className="log">{logLines(event).join("\n")}</pre>
            ) : (
              event.data !== undefined && <pre className="data">{shownValue(event.data)}</pre>
            )}
          </li>
        ))}
      </ol>
      <LoadMore status={status} loadMore={loadMore} count={200} label="Load later events" />
    </>
  );
}

function Actions({ job }: { job: { _id: Id<"jobs">; status: string; cancelRequested: boolean } }) {
  const workspace = useWorkspace();
  const cancel = useMutation(api.jobsConsole.cancel);
  const retry = useMutation(api.jobsConsole.retry);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const run = (action: () => Promise<unknown>) => {
    setError(null);
    action().catch(setError);
  };
  const cancellable =
    (job.status === "scheduled" || job.status === "pending" || job.status === "running") && !job.cancelRequested;
  const retryable = (RETRYABLE_STATUSES as readonly string[]).includes(job.status);
  if (!canChange(workspace.role)) return null;
  return (
    <div className="actions">
      {cancellable && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            run(() => cancel({ workspaceId: workspace._id, jobId: job._id, ...(reason ? { reason } : {}) }));
          }}
        >
          <label htmlFor="cancel-reason">Cancel reason (optional)</label>
          <input id="cancel-reason" value={reason} onChange={(event) => setReason(event.currentTarget.value)} />
          <button type="submit" className="danger">
            Cancel job
          </button>
        </form>
      )}
      {job.cancelRequested && job.status === "running" && (
        <p role="status">Cancel requested: the worker stops at its next heartbeat.</p>
      )}
      {retryable && (
        <button type="button" onClick={() => run(() => retry({ workspaceId: workspace._id, jobId: job._id }))}>
          Retry
        </button>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

export function JobPage({ jobId }: { jobId: string }) {
  const workspace = useWorkspace();
  const now = useNow();
  const id = jobId as Id<"jobs">;
  const detail = useQuery(api.jobsConsole.get, { workspaceId: workspace._id, jobId: id, limit: 1 });
  if (detail === undefined) return <Loading what="the job" />;
  if (detail === null) return <p role="alert">No job {jobId} in this workspace.</p>;
  const { job } = detail;
  const when = (at: number | undefined) =>
    at === undefined ? null : (
      <span title={clockTime(at)}>
        {clockTime(at)} ({relativeTime(at, now)})
      </span>
    );
  return (
    <>
      <p>
        <a href={linkTo({ page: "queue", slug: workspace.slug, filters: {} })}>← Queue</a>
      </p>
      <h1>
        Job {shortId(job._id)} <Badge value={job.status} />
      </h1>
      <section className="panel" aria-labelledby="job-fields">
        <h2 id="job-fields">Details</h2>
        <Fields
          rows={[
            ["Id", <code key="id">{job._id}</code>],
            ["Kind", job.kind],
            ["Role", job.role],
            ["Status", job.status + (job.cancelRequested && job.status === "running" ? " (cancel requested)" : "")],
            ["Outcome", job.outcome],
            ["Outcome reason", job.outcomeReason === undefined ? null : <pre>{shownValue(job.outcomeReason)}</pre>],
            ["Message", job.message],
            ["Attempts", `${job.attempts} of ${job.maxAttempts}`],
            ["Priority", String(job.priority)],
            ["Lane", job.lane],
            ["Repo", <code key="repo">{job.repoId}</code>],
            ["Run", job.runId === undefined ? null : <code>{job.runId}</code>],
            ["Claimed by", job.claimedBy === undefined ? null : <code>{job.claimedBy}</code>],
            ["Claimed", when(job.claimedAt)],
            ["Lease expires", when(job.leaseExpiresAt)],
            ["Runs at", when(job.availableAt)],
            ["Timeout", job.timeoutMs === undefined ? null : `${job.timeoutMs} ms per attempt`],
            ["Retry policy", job.retryPolicy === undefined ? null : <pre>{shownValue(job.retryPolicy)}</pre>],
            ["Cancel requested", when(job.cancelRequestedAt)],
            ["Created", when(job._creationTime)],
            ["Finished", when(job.finishedAt)],
            ["Requirements", <pre key="req">{shownValue(job.requirements)}</pre>],
            ["Evidence", job.evidence === undefined ? null : <pre>{shownValue(job.evidence)}</pre>],
          ]}
        />
        <h3>Prompt</h3>
        <pre className="prompt-full">{job.prompt}</pre>
        <Actions job={job} />
      </section>
      <section className="panel" aria-labelledby="job-timeline">
        <h2 id="job-timeline">Timeline and logs</h2>
        <Timeline jobId={id} />
      </section>
    </>
  );
}
