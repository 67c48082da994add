/**
 * Workers: online / draining / offline (not seen for 60 s), what they can do, the job they
 * hold, and when they were last seen. Admins drain (no new jobs, whatever the worker's own
 * heartbeat says), undrain and remove a worker (its jobs are recovered at once): workerAdmin.ts.
 */
import { useMutation, usePaginatedQuery } from "convex/react";
import { useState } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Id } from "../../../../convex/_generated/dataModel";
import { Badge, ErrorNote, LoadMore, Loading, useNow } from "../components";
import { clockTime, relativeTime, shortId, workerState } from "../format";
import { linkTo } from "../navigation";
import { useWorkspace } from "../workspace";

/** Capabilities as short "key: value" items; lists joined, booleans as yes/no. */
function capabilityItems(capabilities: Record<string, unknown>): string[] {
  return Object.entries(capabilities).map(([key, value]) => {
    const shown = Array.isArray(value)
      ? value.length === 0
        ? "none"
        : value.map((item) => (typeof item === "string" && item.length > 16 ? shortId(item) : String(item))).join(", ")
      : typeof value === "boolean"
        ? value
          ? "yes"
          : "no"
        : String(value);
    return `${key}: ${shown}`;
  });
}

/** Drain / undrain / remove for admins and owners (the server checks the role again). */
function WorkerActions({ worker }: { worker: { _id: Id<"workers">; displayName: string; drainRequested?: boolean } }) {
  const workspace = useWorkspace();
  const drain = useMutation(api.workerAdmin.drain);
  const undrain = useMutation(api.workerAdmin.undrain);
  const remove = useMutation(api.workerAdmin.remove);
  const [error, setError] = useState<unknown>(null);
  if (workspace.role !== "admin" && workspace.role !== "owner") return null;
  const args = { workspaceId: workspace._id, workerId: worker._id };
  const run = (action: () => Promise<unknown>) => {
    setError(null);
    action().catch(setError);
  };
  return (
    <div className="actions">
      {worker.drainRequested ? (
        <button type="button" onClick={() => run(() => undrain(args))}>
          Undrain
        </button>
      ) : (
        <button type="button" onClick={() => run(() => drain(args))}>
          Drain
        </button>
      )}
      <button
        type="button"
        className="danger"
        onClick={() => {
          if (window.confirm(`Remove ${worker.displayName}? Its running jobs are recovered now.`))
            run(() => remove(args));
        }}
      >
        Remove
      </button>
      {error !== null && <ErrorNote error={error} />}
    </div>
  );
}

export function WorkersPage() {
  const workspace = useWorkspace();
  const now = useNow();
  const { results, status, loadMore } = usePaginatedQuery(
    api.workers.list,
    { workspaceId: workspace._id },
    { initialNumItems: 50 },
  );
  return (
    <>
      <h1>Workers</h1>
      <section className="panel">
        {status === "LoadingFirstPage" ? (
          <Loading what="workers" />
        ) : results.length === 0 ? (
          <p className="muted">
            No worker has checked in yet. Start one with <code>ias worker start</code>.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="workers">
              <caption className="visually-hidden">Workers, most recently seen first</caption>
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">State</th>
                  <th scope="col">Current job</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Capabilities</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {results.map((worker) => {
                  const state = workerState(worker);
                  return (
                    <tr key={worker._id} data-worker-id={worker._id}>
                      <td>
                        <strong>{worker.displayName}</strong>
                        {worker.inventory.agentVersion && (
                          <div className="muted">
                            {worker.inventory.agentVersion} {worker.inventory.platform ?? ""}
                          </div>
                        )}
                      </td>
                      <td>
                        <Badge value={state} />
                        {worker.drainRequested && <div className="muted">drained by an admin</div>}
                      </td>
                      <td>
                        {worker.currentJobs.length === 0
                          ? "—"
                          : worker.currentJobs.map((job) => (
                              <div key={job._id}>
                                <a href={linkTo({ page: "job", slug: workspace.slug, jobId: job._id })}>
                                  {job.kind} {shortId(job._id)}
                                </a>
                              </div>
                            ))}
                      </td>
                      <td title={clockTime(worker.lastSeenAt)}>{relativeTime(worker.lastSeenAt, now)}</td>
                      <td>
                        <ul className="chips">
                          {capabilityItems(worker.capabilities as Record<string, unknown>).map((item) => (
                            <li key={item}>{item}</li>
                          ))}
                        </ul>
                      </td>
                      <td>
                        <WorkerActions worker={worker} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore status={status} loadMore={loadMore} count={50} />
      </section>
    </>
  );
}
