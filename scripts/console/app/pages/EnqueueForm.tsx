/** Enqueue a job from the Console (jobsConsole.enqueue): repo, kind, prompt, role, priority. */
import { useMutation } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Doc, Id } from "../../../../convex/_generated/dataModel";
import { JOB_KINDS, type JobKind } from "../../../../convex/model/jobs";
import { choicesOf, ErrorNote, SelectField, type Choice } from "../components";
import { shortId } from "../format";
import { linkTo } from "../navigation";
import { useWorkspace } from "../workspace";

export function repoLabel(repo: Doc<"repos">): string {
  return repo.label ?? `repo ${repo.remoteUrlHash.slice(0, 10)}`;
}

export function repoChoices(repos: Doc<"repos">[]): Choice[] {
  return repos.map((repo) => ({ value: repo._id, label: repoLabel(repo) }));
}

export function EnqueueForm({ repos }: { repos: Doc<"repos">[] }) {
  const workspace = useWorkspace();
  const enqueue = useMutation(api.jobsConsole.enqueue);
  const [error, setError] = useState<unknown>(null);
  const [queued, setQueued] = useState<Id<"jobs"> | null>(null);
  const [busy, setBusy] = useState(false);

  if (repos.length === 0) {
    return (
      <p className="hint">
        No repos yet: link a checkout with <code>ias repo link</code> (or <code>POST /v1/repos/upsert</code>), then
        enqueue here.
      </p>
    );
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const priorityText = String(form.get("priority") ?? "").trim();
    const role = String(form.get("role") ?? "").trim();
    setBusy(true);
    setError(null);
    setQueued(null);
    try {
      const { jobId } = await enqueue({
        workspaceId: workspace._id,
        repoId: String(form.get("repoId")),
        kind: String(form.get("kind")) as JobKind,
        prompt: String(form.get("prompt") ?? ""),
        ...(role ? { role } : {}),
        ...(priorityText ? { priority: Number(priorityText) } : {}),
      });
      setQueued(jobId);
      (event.target as HTMLFormElement).querySelector("textarea")!.value = "";
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="enqueue" onSubmit={submit} aria-label="Enqueue a job">
      <div className="row">
        <SelectField id="enqueue-repo" label="Repo" name="repoId" required choices={repoChoices(repos)} />
        <SelectField id="enqueue-kind" label="Kind" name="kind" defaultValue="work" choices={choicesOf(JOB_KINDS)} />
        <div>
          <label htmlFor="enqueue-role">Role</label>
          <input id="enqueue-role" name="role" placeholder="implementer" />
        </div>
        <div>
          <label htmlFor="enqueue-priority">Priority</label>
          <input id="enqueue-priority" name="priority" type="number" step={1} placeholder="0" />
        </div>
      </div>
      <label htmlFor="enqueue-prompt">Prompt</label>
      <textarea id="enqueue-prompt" name="prompt" rows={3} required />
      <ErrorNote error={error} />
      {queued && (
        <p role="status">
          Enqueued <a href={linkTo({ page: "job", slug: workspace.slug, jobId: queued })}>job {shortId(queued)}</a>.
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Enqueuing…" : "Enqueue"}
      </button>
    </form>
  );
}
