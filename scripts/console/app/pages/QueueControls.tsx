/**
 * Queue controls on the Queue page (SPEC §6 "Pause", "Cancel grace"): whether each lane, and each
 * repo in it, is paused (queuePauses.status), with pause and resume buttons for admins; and the
 * workspace's cancel grace (workspaces.cancelGrace), which admins change here. Everyone else sees
 * the state only.
 */
import { useMutation, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Doc, Id } from "../../../../convex/_generated/dataModel";
import { LANES, type Lane } from "../../../../convex/model/jobs";
import { roleAtLeast } from "../../../../convex/model/roles";
import { MAX_CANCEL_GRACE_MS } from "../../../../convex/model/scheduling";
import { Badge, ErrorNote, Loading } from "../components";
import { useWorkspace } from "../workspace";
import { repoLabel } from "./EnqueueForm";

const LANE_LABELS: Record<Lane, string> = { worker: "Worker lane", cloud_ai: "Cloud AI lane" };
const MAX_GRACE_SECONDS = MAX_CANCEL_GRACE_MS / 1000;

/** The seconds typed into the cancel grace field as ms, or the message saying what is wrong. */
export function parseGraceSeconds(text: string): { ms: number } | { problem: string } {
  const trimmed = text.trim();
  const rule = `Enter a whole number of seconds from 0 to ${MAX_GRACE_SECONDS.toLocaleString("en-US")} (24 hours).`;
  if (!/^\d+$/.test(trimmed)) return { problem: rule };
  const seconds = Number(trimmed);
  if (seconds > MAX_GRACE_SECONDS) return { problem: rule };
  return { ms: seconds * 1000 };
}

function PauseButton(props: {
  paused: boolean;
  label: string;
  lane: Lane;
  repoId?: Id<"repos">;
  onError: (e: unknown) => void;
}) {
  const workspace = useWorkspace();
  const pause = useMutation(api.queuePauses.pauseQueue);
  const resume = useMutation(api.queuePauses.resumeQueue);
  const [busy, setBusy] = useState(false);
  const args = { workspaceId: workspace._id, lane: props.lane, ...(props.repoId ? { repoId: props.repoId } : {}) };
  const act = () => {
    props.onError(null);
    setBusy(true);
    (props.paused ? resume(args) : pause(args)).catch(props.onError).finally(() => setBusy(false));
  };
  const verb = props.paused ? "Resume" : "Pause";
  return (
    <button type="button" className="secondary" disabled={busy} aria-label={`${verb} ${props.label}`} onClick={act}>
      {verb}
    </button>
  );
}

function Pauses({ repos, admin }: { repos: Doc<"repos">[]; admin: boolean }) {
  const workspace = useWorkspace();
  const status = useQuery(api.queuePauses.status, { workspaceId: workspace._id });
  const [error, setError] = useState<unknown>(null);
  if (status === undefined) return <Loading what="the pause state" />;
  const byLane = new Map(status.map((lane) => [lane.lane, lane]));
  const state = (paused: boolean) => <Badge value={paused ? "paused" : "active"} />;
  return (
    <>
      <div className="table-wrap">
        <table className="pauses">
          <caption className="visually-hidden">Paused lanes and repos</caption>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              {LANES.map((lane) => (
                <th scope="col" key={lane}>
                  {LANE_LABELS[lane]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr data-queue="lane">
              <th scope="row">Whole lane</th>
              {LANES.map((lane) => {
                const paused = byLane.get(lane)?.lanePaused === true;
                return (
                  <td key={lane} data-lane={lane} data-paused={paused}>
                    {state(paused)}{" "}
                    {admin && (
                      <PauseButton
                        paused={paused}
                        label={LANE_LABELS[lane].toLowerCase()}
                        lane={lane}
                        onError={setError}
                      />
                    )}
                  </td>
                );
              })}
            </tr>
            {repos.map((repo) => (
              <tr key={repo._id} data-repo-id={repo._id}>
                <th scope="row">{repoLabel(repo)}</th>
                {LANES.map((lane) => {
                  const paused = (byLane.get(lane)?.pausedRepoIds ?? []).includes(repo._id);
                  return (
                    <td key={lane} data-lane={lane} data-paused={paused}>
                      {state(paused)}{" "}
                      {admin && (
                        <PauseButton
                          paused={paused}
                          label={`${repoLabel(repo)} in the ${LANE_LABELS[lane].toLowerCase()}`}
                          lane={lane}
                          repoId={repo._id}
                          onError={setError}
                        />
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted">
        Paused queues still take new jobs; workers are handed none of them (claim-next answers QUEUE_PAUSED) until
        resumed.
      </p>
      <ErrorNote error={error} />
    </>
  );
}

function CancelGrace({ admin }: { admin: boolean }) {
  const workspace = useWorkspace();
  const grace = useQuery(api.workspaces.cancelGrace, { workspaceId: workspace._id });
  const save = useMutation(api.workspaces.setCancelGrace);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  if (grace === undefined) return <Loading what="the cancel grace" />;
  const seconds = grace.cancelGraceMs / 1000;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    const text = String(new FormData(event.currentTarget).get("cancelGraceSeconds") ?? "");
    const parsed = parseGraceSeconds(text);
    if ("problem" in parsed) {
      setProblem(parsed.problem);
      return;
    }
    setProblem(null);
    save({ workspaceId: workspace._id, cancelGraceMs: parsed.ms })
      .then(() => setSaved(true))
      .catch(setError);
  };
  return (
    <>
      <p data-cancel-grace-ms={grace.cancelGraceMs}>
        A running job whose cancel was requested is ended by the server <strong>{seconds} s</strong> later
        {grace.isDefault ? " (the default)" : ""} if its worker has not stopped it.
      </p>
      {admin && (
        <div className="actions">
          <form aria-label="Cancel grace" onSubmit={submit} noValidate>
            <div>
              <label htmlFor="cancel-grace-seconds">Cancel grace (seconds)</label>
              <input
                id="cancel-grace-seconds"
                name="cancelGraceSeconds"
                inputMode="numeric"
                defaultValue={String(seconds)}
                key={grace.cancelGraceMs}
                aria-invalid={problem !== null}
                aria-describedby={problem !== null ? "cancel-grace-problem" : undefined}
              />
            </div>
            <button type="submit">Save</button>
          </form>
        </div>
      )}
      {problem !== null && (
        <p className="error" role="alert" id="cancel-grace-problem">
          {problem}
        </p>
      )}
      {saved && <p role="status">Saved.</p>}
      <ErrorNote error={error} />
    </>
  );
}

export function QueueControls({ repos }: { repos: Doc<"repos">[] }) {
  const workspace = useWorkspace();
  const admin = roleAtLeast(workspace.role, "admin");
  return (
    <section aria-labelledby="controls-heading" className="panel">
      <h2 id="controls-heading">Pause and cancel grace</h2>
      <Pauses repos={repos} admin={admin} />
      <h3>Cancel grace</h3>
      <CancelGrace admin={admin} />
    </section>
  );
}
