/**
 * Concurrency limits (SPEC §6 "Concurrency"): the workspace's concurrency keys with their limit
 * (default 1) and admitted jobs; admins set or clear a key's limit (concurrency.ts, audited).
 */
import { useMutation, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api } from "../../../../convex/_generated/api";
import { ErrorNote, Loading } from "../components";
import { useWorkspace } from "../workspace";

export function ConcurrencyLimits() {
  const workspace = useWorkspace();
  const keys = useQuery(api.concurrency.listKeys, { workspaceId: workspace._id });
  const setLimit = useMutation(api.concurrency.setLimit);
  const [key, setKey] = useState("");
  const [limit, setLimitText] = useState("2");
  const [error, setError] = useState<unknown>(null);
  const isAdmin = workspace.role === "admin" || workspace.role === "owner";
  const change = (target: string, value: number | null) => {
    setError(null);
    setLimit({ workspaceId: workspace._id, key: target, limit: value }).catch(setError);
  };
  function submit(event: FormEvent) {
    event.preventDefault();
    change(key.trim(), Number(limit));
  }
  return (
    <section aria-labelledby="concurrency-heading" className="panel">
      <h2 id="concurrency-heading">Concurrency limits</h2>
      {keys === undefined ? (
        <Loading what="concurrency keys" />
      ) : keys.length === 0 ? (
        <p className="muted">No job has used a concurrency key yet; a key allows 1 job at a time unless set here.</p>
      ) : (
        <div className="table-wrap">
          <table className="concurrency">
            <thead>
              <tr>
                <th>Key</th>
                <th>Limit</th>
                <th>Admitted</th>
                {isAdmin && <th />}
              </tr>
            </thead>
            <tbody>
              {keys.map((row) => (
                <tr key={row.key} data-key={row.key}>
                  <td>
                    <code>{row.key}</code>
                  </td>
                  <td>{row.limitSet ? row.limit : `${row.limit} (default)`}</td>
                  <td>{row.admitted}</td>
                  {isAdmin && (
                    <td>
                      {row.limitSet && (
                        <button type="button" onClick={() => change(row.key, null)}>
                          Clear limit
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {isAdmin && (
        <form className="inline-form" onSubmit={submit} aria-label="Set a concurrency limit">
          <label>
            Key <input value={key} onChange={(event) => setKey(event.target.value)} maxLength={200} required />
          </label>
          <label>
            Limit{" "}
            <input
              type="number"
              min={1}
              max={1000}
              value={limit}
              onChange={(event) => setLimitText(event.target.value)}
              required
            />
          </label>
          <button type="submit">Set limit</button>
        </form>
      )}
      {error !== null && <ErrorNote error={error} />}
    </section>
  );
}
