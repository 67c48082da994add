/**
 * Jobs created in the last hour, in 5-minute bars stacked by their status now
 * (jobsConsole.activity). An SVG for the eye, with the same numbers in a table for screen
 * readers. `since` moves once a minute, so the subscription is reused in between.
 */
import { useQuery } from "convex/react";
import { api } from "../../../../convex/_generated/api";
import { JOB_STATUSES } from "../../../../convex/model/jobs";
import { Loading, useNow } from "../components";
import { useWorkspace } from "../workspace";

const HOUR_MS = 60 * 60_000;
const WIDTH = 600;
const HEIGHT = 160;
const AXIS = 20;

function minuteFloor(at: number) {
  return Math.floor(at / 60_000) * 60_000;
}

function timeOfDay(at: number) {
  const date = new Date(at);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

export function ActivityChart() {
  const workspace = useWorkspace();
  const since = minuteFloor(useNow(60_000)) - HOUR_MS;
  const chart = useQuery(api.jobsConsole.activity, { workspaceId: workspace._id, since });
  if (chart === undefined) return <Loading what="the last hour" />;

  const totals = chart.buckets.map((bucket) => JOB_STATUSES.reduce((sum, status) => sum + bucket.counts[status], 0));
  const peak = Math.max(1, ...totals);
  const slot = WIDTH / chart.buckets.length;
  const scale = (HEIGHT - AXIS) / peak;
  const all = totals.reduce((sum, total) => sum + total, 0);

  return (
    <figure className="chart">
      <figcaption>
        Jobs created in the last hour, by status now: {all}
        {chart.complete ? "" : "+ (only the newest 2,000 are drawn)"}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Bar chart of ${all} jobs in 5-minute bars`}>
        {chart.buckets.map((bucket, index) => {
          let top = HEIGHT - AXIS;
          return (
            <g key={bucket.start}>
              {JOB_STATUSES.filter((status) => bucket.counts[status] > 0).map((status) => {
                const height = bucket.counts[status] * scale;
                top -= height;
                return (
                  <rect
                    key={status}
                    className={`bar bar-${status}`}
                    x={index * slot + 4}
                    y={top}
                    width={slot - 8}
                    height={height}
                  >
                    <title>{`${timeOfDay(bucket.start)}: ${bucket.counts[status]} ${status}`}</title>
                  </rect>
                );
              })}
              {index % 3 === 0 && (
                <text x={index * slot + 4} y={HEIGHT - 4} className="axis">
                  {timeOfDay(bucket.start)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul className="legend" aria-hidden="true">
        {JOB_STATUSES.map((status) => (
          <li key={status}>
            <span className={`swatch bar-${status}`} /> {status}
          </li>
        ))}
      </ul>
      <div className="visually-hidden">
        <table>
          <caption>Jobs created per 5 minutes, by status</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              {JOB_STATUSES.map((status) => (
                <th scope="col" key={status}>
                  {status}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {chart.buckets.map((bucket) => (
              <tr key={bucket.start}>
                <th scope="row">{timeOfDay(bucket.start)}</th>
                {JOB_STATUSES.map((status) => (
                  <td key={status}>{bucket.counts[status]}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
