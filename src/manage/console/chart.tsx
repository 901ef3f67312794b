/** @jsxImportSource hono/jsx */
/**
 * Usage drawn as a chart, server-rendered SVG: no client library, no script, nothing the
 * CSP has to allow (shapes styled by classes of console.css). Each bucket is a bar of its
 * forwarded requests with its rejected ones stacked on top. The SVG is one image with a
 * summary for assistive technology; the numbers themselves follow as a table, visually
 * hidden, for screen readers (and read by anyone with CSS off).
 */
import type { FC } from "hono/jsx";

/** One bucket of usage (manage/usage.ts UsageAnswer's series). */
export interface UsageBucketView {
  start: string;
  requests: number;
  forwarded: number;
  rejected: number;
}

/** A key's or an org's usage as the console draws it: per hour for 48 h, per day for 30 days. */
export interface UsageCharts {
  hourly: UsageBucketView[];
  daily: UsageBucketView[];
}

/**
 * The usage section of a key's or an org's page: both charts; a note when usage is not
 * recorded or cannot be read (null); nothing at all when the principal may not read it.
 */
export const UsageSection: FC<{ usage: UsageCharts | null | "refused"; of: string }> = ({ usage, of }) => {
  if (usage === "refused") return null;
  return (
    <>
      <h2>Usage</h2>
      <div class="card">
        {usage === null ? (
          <p class="muted">
            Usage is not recorded on this gateway (no USAGE_STORE binding), or cannot be read right now.
          </p>
        ) : (
          <div class="charts">
            <UsageChart
              id="usage-hourly"
              title={`Requests per hour, last 48 hours (${of})`}
              series={usage.hourly}
              unit="hour"
            />
            <UsageChart
              id="usage-daily"
              title={`Requests per day, last 30 days (${of})`}
              series={usage.daily}
              unit="day"
            />
          </div>
        )}
      </div>
    </>
  );
};

const W = 720;
const H = 180;
const LEFT = 44;
const BOTTOM = 22;
const TOP = 10;

const fmt = (n: number) => n.toLocaleString("en-US");

/** The bucket's label in the table: a day, or a day and an hour (UTC). */
function label(start: string, unit: "hour" | "day"): string {
  return unit === "day" ? start.slice(0, 10) : `${start.slice(0, 10)} ${start.slice(11, 16)}`;
}

/** A round ceiling for the y axis: 1, 2, 5 × 10^n. */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (n <= m * p) return m * p;
  return 10 * p;
}

export const UsageChart: FC<{ id: string; title: string; series: UsageBucketView[]; unit: "hour" | "day" }> = ({
  id,
  title,
  series,
  unit,
}) => {
  const total = series.reduce(
    (t, b) => ({
      requests: t.requests + b.requests,
      forwarded: t.forwarded + b.forwarded,
      rejected: t.rejected + b.rejected,
    }),
    { requests: 0, forwarded: 0, rejected: 0 },
  );
  const peak = series.reduce((best, b) => (b.requests > (best?.requests ?? -1) ? b : best), series[0]);
  const max = niceMax(Math.max(0, ...series.map((b) => b.requests)));
  const plotW = W - LEFT - 6;
  const plotH = H - TOP - BOTTOM;
  const slot = plotW / Math.max(1, series.length);
  const bar = Math.max(1, slot * 0.72);
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const summary =
    `${title}: ${fmt(total.requests)} requests, ${fmt(total.forwarded)} forwarded, ${fmt(total.rejected)} rejected` +
    (peak && peak.requests > 0 ? `; busiest ${label(peak.start, unit)} UTC with ${fmt(peak.requests)}.` : ".");
  // A few x labels: every 12 hours, or every 5 days.
  const every = unit === "hour" ? 12 : 5;
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} class="chart-svg" focusable="false">
        <line class="axis" x1={LEFT} y1={TOP + plotH} x2={W - 6} y2={TOP + plotH} />
        <line class="grid" x1={LEFT} y1={TOP} x2={W - 6} y2={TOP} />
        <line class="grid" x1={LEFT} y1={TOP + plotH / 2} x2={W - 6} y2={TOP + plotH / 2} />
        <text class="tick" x={LEFT - 6} y={TOP + 4} text-anchor="end">
          {fmt(max)}
        </text>
        <text class="tick" x={LEFT - 6} y={TOP + plotH / 2 + 4} text-anchor="end">
          {fmt(max / 2)}
        </text>
        <text class="tick" x={LEFT - 6} y={TOP + plotH + 4} text-anchor="end">
          0
        </text>
        {series.map((b, i) => {
          const x = LEFT + i * slot + (slot - bar) / 2;
          const fTop = y(b.forwarded);
          const rTop = y(b.requests);
          return (
            <g>
              <title>{`${label(b.start, unit)} UTC: ${fmt(b.requests)} requests (${fmt(b.forwarded)} forwarded, ${fmt(b.rejected)} rejected)`}</title>
              {b.forwarded > 0 ? (
                <rect
                  class="bar-f"
                  x={x.toFixed(1)}
                  y={fTop.toFixed(1)}
                  width={bar.toFixed(1)}
                  height={(TOP + plotH - fTop).toFixed(1)}
                />
              ) : null}
              {b.rejected > 0 ? (
                <rect
                  class="bar-r"
                  x={x.toFixed(1)}
                  y={rTop.toFixed(1)}
                  width={bar.toFixed(1)}
                  height={(fTop - rTop).toFixed(1)}
                />
              ) : null}
              {i % every === 0 ? (
                <text class="tick" x={(LEFT + i * slot + slot / 2).toFixed(1)} y={H - 6} text-anchor="middle">
                  {unit === "hour" ? b.start.slice(5, 13).replace("T", " ") + "h" : b.start.slice(5, 10)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <p class="legend" aria-hidden="true">
        <span class="swatch swatch-f"></span> forwarded <span class="swatch swatch-r"></span> rejected ·{" "}
        {`${fmt(total.requests)} requests`}
      </p>
      <table class="sr-only">
        <caption>{`${title} (UTC)`}</caption>
        <thead>
          <tr>
            <th scope="col">{unit === "hour" ? "Hour (UTC)" : "Day (UTC)"}</th>
            <th scope="col">Requests</th>
            <th scope="col">Forwarded</th>
            <th scope="col">Rejected</th>
          </tr>
        </thead>
        <tbody>
          {series.map((b) => (
            <tr>
              <td>{label(b.start, unit)}</td>
              <td>{b.requests}</td>
              <td>{b.forwarded}</td>
              <td>{b.rejected}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
};
