/**
 * The Inbox (SPEC §7): open decision requests grouped by tier (blockers first), one request
 * with what the agent knew and assumed, answer or dismiss, and then its `apply_decision` job.
 */
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Doc, Id } from "../../../../convex/_generated/dataModel";
import type { DecisionOption } from "../../../../convex/model/decisions";
import { Badge, LoadMore, ErrorNote, Fields, Loading, useNow } from "../components";
import { excerpt, relativeTime, shortId } from "../format";
import { linkTo } from "../navigation";
import { canChange, useWorkspace } from "../workspace";

type Decision = Doc<"decisionRequests">;

function optionValue(option: DecisionOption) {
  return typeof option === "string"
    ? { value: option, label: option }
    : { ...option, label: option.label ?? option.value };
}

/** Consecutive requests of one tier (the list is in Inbox order already). */
function byTier(decisions: Decision[]): Array<[string, Decision[]]> {
  const groups: Array<[string, Decision[]]> = [];
  for (const decision of decisions) {
    const last = groups[groups.length - 1];
    const key = decision.status === "open" ? decision.tier : "decided";
    if (last && last[0] === key) last[1].push(decision);
    else groups.push([key, [decision]]);
  }
  return groups;
}

function AnswerForm({ decision }: { decision: Decision }) {
  const workspace = useWorkspace();
  const answer = useMutation(api.inbox.answer);
  const dismiss = useMutation(api.inbox.dismiss);
  const [error, setError] = useState<unknown>(null);
  const options = (decision.options ?? []).map(optionValue);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const note = String(form.get("note") ?? "").trim();
    setError(null);
    await answer({
      workspaceId: workspace._id,
      decisionRequestId: decision._id,
      value: String(form.get("value") ?? ""),
      ...(note ? { note } : {}),
    }).catch(setError);
  }

  return (
    <form onSubmit={submit} aria-label="Answer">
      {options.length > 0 ? (
        <fieldset>
          <legend>Answer</legend>
          {options.map((option, index) => (
            <label key={option.value} className="option">
              <input type="radio" name="value" value={option.value} required defaultChecked={index === 0} />{" "}
              {option.label}
              {"description" in option && option.description && <span className="muted"> — {option.description}</span>}
            </label>
          ))}
        </fieldset>
      ) : (
        <>
          <label htmlFor="answer-value">Answer</label>
          <textarea id="answer-value" name="value" rows={2} required />
        </>
      )}
      <label htmlFor="answer-note">Note (optional)</label>
      <input id="answer-note" name="note" />
      <ErrorNote error={error} />
      <div className="actions">
        <button type="submit">Answer</button>
        <button
          type="button"
          className="secondary"
          onClick={() =>
            dismiss({ workspaceId: workspace._id, decisionRequestId: decision._id }).then(() => undefined, setError)
          }
        >
          Dismiss
        </button>
      </div>
    </form>
  );
}

function DecisionDetail({ decisionId }: { decisionId: Id<"decisionRequests"> }) {
  const workspace = useWorkspace();
  const detail = useQuery(api.inbox.get, { workspaceId: workspace._id, decisionRequestId: decisionId });
  if (detail === undefined) return <Loading what="the decision" />;
  if (detail === null) return <p role="alert">No decision request {decisionId} in this workspace.</p>;
  const { decision, uncertainty, applyJob } = detail;
  return (
    <section className="panel" aria-labelledby="decision-heading">
      <h2 id="decision-heading">{decision.prompt}</h2>
      <Fields
        rows={[
          ["Tier", <Badge key="tier" value={decision.tier} />],
          ["Status", <Badge key="status" value={decision.status} />],
          ["Kind", decision.kind],
          ["Context", uncertainty?.context],
          ["Agent assumed", uncertainty?.assumedValue],
          ["Because", uncertainty?.assumedReasoning],
          ["Confidence", uncertainty ? `${Math.round(uncertainty.confidence * 100)} %` : null],
          ["Impact / reversibility", uncertainty ? `${uncertainty.impact} / ${uncertainty.reversibility}` : null],
          ["Answer", decision.answer],
          ["Note", decision.answerNote],
        ]}
      />
      {decision.status === "open" && canChange(workspace.role) && <AnswerForm decision={decision} />}
      {applyJob && (
        <p role="status" className="apply-job">
          Applying the answer: job{" "}
          <a href={linkTo({ page: "job", slug: workspace.slug, jobId: applyJob._id })}>
            {applyJob.kind} {shortId(applyJob._id)}
          </a>{" "}
          <Badge value={applyJob.status} />
        </p>
      )}
    </section>
  );
}

export function InboxPage({ view, decisionId }: { view: "open" | "all"; decisionId?: string }) {
  const workspace = useWorkspace();
  const now = useNow(30_000);
  const { results, status, loadMore } = usePaginatedQuery(
    api.inbox.list,
    { workspaceId: workspace._id, openOnly: view === "open" },
    { initialNumItems: 50 },
  );
  const other = view === "open" ? "all" : "open";
  return (
    <>
      <h1>Inbox</h1>
      <p>
        Showing {view === "open" ? "open requests" : "all requests"} ·{" "}
        <a href={linkTo({ page: "inbox", slug: workspace.slug, view: other, decisionId })}>
          show {other === "open" ? "open only" : "answered and dismissed too"}
        </a>
      </p>
      <div className="split">
        <section className="panel" aria-label="Decision requests">
          {status === "LoadingFirstPage" ? (
            <Loading what="the Inbox" />
          ) : results.length === 0 ? (
            <p className="muted">Nothing waits for a decision.</p>
          ) : (
            byTier(results).map(([tier, decisions]) => (
              <div key={tier + decisions[0]!._id}>
                <h2 className="tier">{tier}</h2>
                <ul className="decisions">
                  {decisions.map((decision) => (
                    <li key={decision._id} aria-current={decision._id === decisionId ? "true" : undefined}>
                      <a href={linkTo({ page: "inbox", slug: workspace.slug, view, decisionId: decision._id })}>
                        {excerpt(decision.prompt, 100)}
                      </a>{" "}
                      <span className="muted">{relativeTime(decision._creationTime, now)}</span>
                    </li>
                  ))}
                </ul>
              </div>
            ))
          )}
          <LoadMore status={status} loadMore={loadMore} count={50} />
        </section>
        {decisionId && <DecisionDetail decisionId={decisionId as Id<"decisionRequests">} />}
      </div>
    </>
  );
}
