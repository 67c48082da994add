/**
 * Run triggers (runTriggers.ts): every trigger with its type, what fires it (source and event
 * type, or cron and time zone) and, for a schedule trigger, its next 3 runs and its last run.
 * Admins add schedule triggers here (event triggers through the `runTriggers.*` functions).
 */
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Doc } from "../../../../convex/_generated/dataModel";
import { Badge, ErrorNote, LoadMore, Loading, SelectField } from "../components";
import { shortId } from "../format";
import { useWorkspace } from "../workspace";
import { repoChoices } from "./EnqueueForm";

/** A time as the trigger's zone reads it, e.g. "2026-03-29 09:00 Europe/Berlin". */
export function zoneTime(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const part = (type: string) => parts.find((entry) => entry.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${timeZone}`;
}

function defaultTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function ScheduleForm({ repos }: { repos: Doc<"repos">[] }) {
  const workspace = useWorkspace();
  const create = useMutation(api.runTriggers.create);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (workspace.role !== "admin" && workspace.role !== "owner") return null;
  if (repos.length === 0) return <p className="hint">No repos yet: a schedule trigger enqueues into a repo.</p>;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    setBusy(true);
    setError(null);
    try {
      await create({
        workspaceId: workspace._id,
        type: "schedule",
        name: String(form.get("name") ?? ""),
        schedule: { cron: String(form.get("cron") ?? ""), timeZone: String(form.get("timeZone") ?? "") },
        action: {
          repoId: String(form.get("repoId")) as Doc<"repos">["_id"],
          enqueueJob: { kind: "work", promptTemplate: String(form.get("prompt") ?? "") },
        },
      });
      formElement.reset();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="enqueue" onSubmit={submit} aria-label="Add a schedule trigger">
      <div className="row">
        <div>
          <label htmlFor="trigger-name">Name</label>
          <input id="trigger-name" name="name" required />
        </div>
        <div>
          <label htmlFor="trigger-cron">Cron (5 fields)</label>
          <input id="trigger-cron" name="cron" required placeholder="0 9 * * 1-5" />
        </div>
        <div>
          <label htmlFor="trigger-zone">Time zone</label>
          <input id="trigger-zone" name="timeZone" required defaultValue={defaultTimeZone()} />
        </div>
        <SelectField id="trigger-repo" label="Repo" name="repoId" required choices={repoChoices(repos)} />
      </div>
      <label htmlFor="trigger-prompt">Prompt of the job it enqueues</label>
      <textarea id="trigger-prompt" name="prompt" rows={2} required />
      <ErrorNote error={error} />
      <button type="submit" disabled={busy}>
        {busy ? "Adding…" : "Add schedule trigger"}
      </button>
    </form>
  );
}

type ListedTrigger = Doc<"runTriggers"> & { upcomingRuns: number[] };

function FiredBy({ trigger }: { trigger: ListedTrigger }) {
  if (trigger.type === "event") return <>{`${trigger.source ?? ""} / ${trigger.eventType ?? ""}`}</>;
  return (
    <>
      <code>{trigger.schedule?.cron}</code> in {trigger.schedule?.timeZone}
    </>
  );
}

function Runs({ trigger }: { trigger: ListedTrigger }) {
  if (trigger.type !== "schedule" || trigger.schedule === undefined) return <>—</>;
  const { timeZone } = trigger.schedule;
  return (
    <>
      {trigger.upcomingRuns.length === 0 ? (
        <span>none (disabled)</span>
      ) : (
        <ol className="upcoming" aria-label={`Next runs of ${trigger.name}`}>
          {trigger.upcomingRuns.map((at) => (
            <li key={at}>
              <time dateTime={new Date(at).toISOString()}>{zoneTime(at, timeZone)}</time>
            </li>
          ))}
        </ol>
      )}
      {trigger.lastRun && (
        <p className="hint">
          Last: {zoneTime(trigger.lastRun.at, timeZone)} {trigger.lastRun.status}
          {trigger.lastRun.jobId ? ` (job ${shortId(trigger.lastRun.jobId)})` : ""}
          {trigger.lastRun.error ? `: ${trigger.lastRun.error}` : ""}
        </p>
      )}
    </>
  );
}

export function RunTriggersPage() {
  const workspace = useWorkspace();
  const repos = useQuery(api.repos.list, {
    workspaceId: workspace._id,
    paginationOpts: { numItems: 200, cursor: null },
  });
  const { results, status, loadMore } = usePaginatedQuery(
    api.runTriggers.list,
    { workspaceId: workspace._id },
    { initialNumItems: 50 },
  );
  return (
    <>
      <h1>Run triggers</h1>
      {repos !== undefined && <ScheduleForm repos={repos.page} />}
      {status === "LoadingFirstPage" ? (
        <Loading what="run triggers" />
      ) : results.length === 0 ? (
        <p>No run triggers yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Fired by</th>
                <th scope="col">State</th>
                <th scope="col">Next runs</th>
              </tr>
            </thead>
            <tbody>
              {(results as ListedTrigger[]).map((trigger) => (
                <tr key={trigger._id}>
                  <td>{trigger.name}</td>
                  <td>
                    <Badge value={trigger.type} />
                  </td>
                  <td>
                    <FiredBy trigger={trigger} />
                  </td>
                  <td>{trigger.enabled ? "enabled" : "disabled"}</td>
                  <td>
                    <Runs trigger={trigger} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore status={status} loadMore={loadMore} count={50} label="Load more triggers" />
    </>
  );
}
