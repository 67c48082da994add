/**
 * Small pieces every Console page uses: status badges, notices, error boundaries, a ticking
 * clock, labelled selects, "Load more".
 */
import { Component, useEffect, useState, type ReactNode } from "react";
import { errorText } from "./format";

/** A status word in a coloured pill; the word itself carries the meaning (not only the colour). */
export function Badge({ value }: { value: string }) {
  return <span className={`badge badge-${value.replace(/[^a-z_]/g, "")}`}>{value}</span>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** An error the person caused or can act on, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p className="error" role="alert">
      {errorText(error)}
    </p>
  );
}

/** A query that throws (no access, not found) shows its message here instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, { error: unknown }> {
  override state: { error: unknown } = { error: null };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override componentDidUpdate(previous: { resetKey?: string }) {
    if (previous.resetKey !== this.props.resetKey && this.state.error !== null) this.setState({ error: null });
  }
  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="panel">
        <h2>Something went wrong</h2>
        <ErrorNote error={this.state.error} />
        <button type="button" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </section>
    );
  }
}

/**
 * The current time for "seen 12 s ago" texts: read at every render (a render for new data must
 * not compare a fresh timestamp with a clock up to `everyMs` old: "finished in 5 s"), and a
 * re-render every `everyMs` so the texts age on their own.
 */
export function useNow(everyMs = 5_000): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((tick) => tick + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return Date.now();
}

/** A label/value list (job fields, device details). Values that are missing show a dash. */
export function Fields({ rows }: { rows: Array<[string, ReactNode]> }) {
  return (
    <dl className="fields">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value === null || value === undefined || value === "" ? "—" : value}</dd>
        </div>
      ))}
    </dl>
  );
}

export type Choice = { value: string; label: string };

/** Words as choices that show themselves (statuses, kinds). */
export function choicesOf(words: readonly string[]): Choice[] {
  return words.map((word) => ({ value: word, label: word }));
}

/**
 * A labelled select. Controlled with `value` + `onChange`, or a plain form field with
 * `name` + `defaultValue`; `anyLabel` adds a first, empty choice ("any").
 */
export function SelectField(props: {
  id: string;
  label: string;
  choices: Choice[];
  name?: string;
  value?: string;
  defaultValue?: string;
  anyLabel?: string;
  required?: boolean;
  onChange?: (value: string) => void;
}) {
  const { id, label, choices, anyLabel, onChange, ...field } = props;
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <select id={id} {...field} onChange={onChange && ((event) => onChange(event.currentTarget.value))}>
        {anyLabel !== undefined && <option value="">{anyLabel}</option>}
        {choices.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The button under a usePaginatedQuery list, or a loading line while the next page comes. */
export function LoadMore(props: { status: string; loadMore: (count: number) => void; count: number; label?: string }) {
  if (props.status === "LoadingMore") return <Loading what="more" />;
  if (props.status !== "CanLoadMore") return null;
  return (
    <button type="button" onClick={() => props.loadMore(props.count)}>
      {props.label ?? "Load more"}
    </button>
  );
}
