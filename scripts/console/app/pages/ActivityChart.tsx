/**
 * Jobs created in the last hour, in 5-minute bars stacked by their status now
 * (jobsConsole.activity). An SVG for the eye, with the same numbers in a table for screen
 * readers. The window ends with the current bucket and moves when the next one starts
 * (activityWindow.ts), so the subscription is reused in between.
 */
import { useQuery } from "convex/react";
import { api } from "../../../../convex/_generated/api";
import { JOB_STATUSES } from "../../../../convex/model/jobs";
import { useActivitySince } from "../activityWindow";
import { Loading } from "../components";
import { useWorkspace } from "../workspace";

const WIDTH = 600;
const HEIGHT = 160;
const AXIS = 20;
/** Room above the tallest bar for its total. */
const TOP = 14;

function timeOfDay(at: number) {
  const date = new Date(at);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

export function ActivityChart() {
  const workspace = useWorkspace();
  const since = useActivitySince();
  const chart = useQuery(api.jobsConsole.activity, { workspaceId: workspace._id, since });
  if (chart === undefined) return <Loading what="the last hour" />;

  const totals = chart.buckets.map((bucket) => JOB_STATUSES.reduce((sum, status) => sum + bucket.counts[status], 0));
  const peak = Math.max(1, ...totals);
  const slot = WIDTH / chart.buckets.length;
  const scale = (HEIGHT - AXIS - TOP) / peak;
  const all = totals.reduce((sum, total) => sum + total, 0);

  return (
    <figure className="chart">
      <figcaption>
        Jobs created in the last hour, by status now: {all}
        {chart.complete ? "" : "+ (only the newest 2,000 are drawn)"}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Bar chart of ${all} jobs in 5-minute bars`}>
        <line x1={0} x2={WIDTH} y1={HEIGHT - AXIS + 0.5} y2={HEIGHT - AXIS + 0.5} className="baseline" />
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
              {totals[index]! > 0 && (
                <text x={index * slot + slot / 2} y={top - 3} className="total" textAnchor="middle">
                  {totals[index]}
                </text>
              )}
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
