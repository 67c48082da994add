/**
 * The queue: counts by status, the last hour's chart, a live list of jobs filtered by status,
 * repo and kind (usePaginatedQuery over jobsConsole.list), the enqueue form, and the pause and
 * cancel grace controls (QueueControls.tsx).
 */
import { usePaginatedQuery, useQuery } from "convex/react";
import { useEffect, useRef } from "react";
import { api } from "../../../../convex/_generated/api";
import type { Doc, Id } from "../../../../convex/_generated/dataModel";
import { JOB_KINDS, JOB_STATUSES } from "../../../../convex/model/jobs";
import { Badge, choicesOf, LoadMore, Loading, SelectField, useNow } from "../components";
import { excerpt, relativeTime, shortId } from "../format";
import { linkTo, navigate } from "../navigation";
import type { QueueFilters } from "../routes";
import { canChange, useWorkspace } from "../workspace";
import { ActivityChart } from "./ActivityChart";
import { EnqueueForm, repoChoices, repoLabel } from "./EnqueueForm";
import { ConcurrencyLimits } from "./Concurrency";
import { QueueControls } from "./QueueControls";

const PAGE_SIZE = 25;
/** The kind filter is applied per page; load on by itself this many times before asking. */
const AUTO_LOADS = 8;

function Counts({ filters }: { filters: QueueFilters }) {
  const workspace = useWorkspace();
  const counts = useQuery(api.jobsConsole.counts, { workspaceId: workspace._id });
  if (counts === undefined) return <Loading what="counts" />;
  return (
    <ul className="counts" aria-label="Jobs by status">
      {counts.map(({ status, count, complete }) => (
        <li key={status}>
          <a
            href={linkTo({ page: "queue", slug: workspace.slug, filters: { ...filters, status } })}
            aria-current={filters.status === status ? "true" : undefined}
          >
            <span className="count">
              {count}
              {complete ? "" : "+"}
            </span>
            <Badge value={status} />
          </a>
        </li>
      ))}
    </ul>
  );
}

function Filters({ filters, repos }: { filters: QueueFilters; repos: Doc<"repos">[] }) {
  const workspace = useWorkspace();
  const fields = [
    { key: "status", label: "Status", choices: choicesOf(JOB_STATUSES) },
    { key: "repoId", label: "Repo", choices: repoChoices(repos) },
    { key: "kind", label: "Kind", choices: choicesOf(JOB_KINDS) },
  ] as const;
  return (
    <form className="filters" aria-label="Filter jobs" onSubmit={(event) => event.preventDefault()}>
      {fields.map(({ key, label, choices }) => (
        <SelectField
          key={key}
          id={`filter-${key}`}
          label={label}
          anyLabel="any"
          choices={choices}
          value={filters[key] ?? ""}
          // The choices are the filter's own values, so the result is a QueueFilters.
          onChange={(value) =>
            navigate({
              page: "queue",
              slug: workspace.slug,
              filters: { ...filters, [key]: value || undefined } as QueueFilters,
            })
          }
        />
      ))}
    </form>
  );
}

function JobList({ filters, repos }: { filters: QueueFilters; repos: Doc<"repos">[] }) {
  const workspace = useWorkspace();
  const now = useNow();
  const { results, status, loadMore } = usePaginatedQuery(
    api.jobsConsole.list,
    {
      workspaceId: workspace._id,
      ...(filters.status ? { status: filters.status } : {}),
      ...(filters.repoId ? { repoId: filters.repoId as Id<"repos"> } : {}),
      ...(filters.kind ? { kind: filters.kind } : {}),
    },
    { initialNumItems: PAGE_SIZE },
  );
  const autoLoads = useRef(0);
  useEffect(() => {
    autoLoads.current = 0;
  }, [filters.status, filters.repoId, filters.kind]);
  useEffect(() => {
    if (status === "CanLoadMore" && results.length < PAGE_SIZE && autoLoads.current < AUTO_LOADS) {
      autoLoads.current += 1;
      loadMore(PAGE_SIZE);
    }
  }, [status, results.length, loadMore]);

  if (status === "LoadingFirstPage") return <Loading what="jobs" />;
  const repoNames = new Map(repos.map((repo) => [repo._id as string, repoLabel(repo)]));
  return (
    <>
      <div className="table-wrap">
        <table className="jobs">
          <caption className="visually-hidden">Jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Kind</th>
              <th scope="col">Repo</th>
              <th scope="col">Prompt</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {results.map((job) => (
              <tr key={job._id} data-job-id={job._id}>
                <td>
                  <a href={linkTo({ page: "job", slug: workspace.slug, jobId: job._id })}>{shortId(job._id)}</a>
                </td>
                <td>
                  <Badge value={job.status} />
                  {job.cancelRequested && job.status === "running" ? " (cancel requested)" : ""}
                </td>
                <td>{job.kind}</td>
                <td>{repoNames.get(job.repoId) ?? shortId(job.repoId)}</td>
                <td className="prompt">{excerpt(job.prompt)}</td>
                <td title={new Date(job._creationTime).toISOString()}>{relativeTime(job._creationTime, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {results.length === 0 && status !== "LoadingMore" && (
        <p className="muted">{status === "Exhausted" ? "No jobs match." : "No matching jobs loaded yet."}</p>
      )}
      <LoadMore status={status} loadMore={loadMore} count={PAGE_SIZE} />
    </>
  );
}

export function QueuePage({ filters }: { filters: QueueFilters }) {
  const workspace = useWorkspace();
  const repos = useQuery(api.repos.list, {
    workspaceId: workspace._id,
    paginationOpts: { numItems: 200, cursor: null },
  });
  const repoList = repos?.page ?? [];
  return (
    <>
      <h1>Queue</h1>
      <section aria-labelledby="overview-heading" className="panel">
        <h2 id="overview-heading">Overview</h2>
        <Counts filters={filters} />
        <ActivityChart />
      </section>
      {canChange(workspace.role) && (
        <details className="panel">
          <summary>Enqueue a job</summary>
          <EnqueueForm repos={repoList} />
        </details>
      )}
      <section aria-labelledby="jobs-heading" className="panel">
        <h2 id="jobs-heading">Jobs</h2>
        <Filters filters={filters} repos={repoList} />
        <JobList filters={filters} repos={repoList} />
      </section>
      <QueueControls repos={repoList} />
      <ConcurrencyLimits />
    </>
  );
}
