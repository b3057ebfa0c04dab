import { Empty, Tooltip } from "antd";
import type { Cohort, Launch } from "../api/types";

const COLORS = ["#1677ff", "#52c41a", "#fa8c16", "#eb2f96", "#722ed1"];

export interface Line {
  name: string;
  /** null where the day has no figure: the line breaks there */
  values: (number | null)[];
}

/** A release on the chart's x axis: a dashed line on its day, named in its tooltip. */
export interface Marker {
  date: string;
  text: string;
}

/** What changed for users on which day: each launch's first grayscale, its release, a halt, an
 * offline and a rollback, oldest first, so that a chart shows what a dip or a jump followed. */
export function releaseMarkers(launches: Launch[], appName: (id: string) => string = (id) => id): Marker[] {
  const said: Partial<Record<Launch["status"], string>> = { released: "released", halted: "halted", offline: "offline", rollback: "rolled back" };
  const markers = launches.flatMap((launch) => {
    const firstGrayscale = launch.history.find((step) => step.status === "grayscale");
    return launch.history
      .filter((step) => said[step.status] || step === firstGrayscale)
      .map((step) => ({
        at: step.at,
        date: step.at.slice(0, 10),
        text: `${launch.version} ${step === firstGrayscale ? `grayscale to ${step.percentage ?? 0}%` : said[step.status]} on ${appName(launch.app_id)}`,
      }));
  });
  return markers.sort((a, b) => a.at.localeCompare(b.at)).map(({ date, text }) => ({ date, text }));
}

/** The runs of consecutive points that have a value, as [index, value] pairs. */
export function segments(values: (number | null)[]): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push([index, value]);
  });
  if (run.length) runs.push(run);
  return runs;
}

/** Lines over a shared x axis of labels (dates), drawn as SVG with a legend and axis labels. */
export function LineChart({
  labels,
  lines,
  markers = [],
  height = 220,
  unit = "",
  top,
}: {
  labels: string[];
  lines: Line[];
  markers?: Marker[];
  height?: number;
  unit?: string;
  /** the y axis' top, where it is fixed (100 for a percentage); else the highest value */
  top?: number;
}) {
  // null is "no data", not zero: a range without a single figure is said, not drawn flat
  if (labels.length === 0 || !lines.some((line) => line.values.some((value) => value !== null && value !== undefined)))
    return <Empty description="No data in this date range yet." />;
  const width = 640;
  const pad = { left: 48, right: 12, top: 12, bottom: 28 };
  const max = top ?? Math.max(1, ...lines.flatMap((line) => line.values.filter((value): value is number => value !== null && value !== undefined)));
  const x = (i: number) => pad.left + (labels.length === 1 ? 0.5 : i / (labels.length - 1)) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const ticks = [0, max / 2, max];
  const every = Math.max(1, Math.ceil(labels.length / 7));
  // one line a day, however many releases it saw, with all of them in its tooltip
  const releasedOn = new Map<number, string[]>();
  for (const marker of markers) {
    const index = labels.indexOf(marker.date);
    if (index >= 0) releasedOn.set(index, [...(releasedOn.get(index) ?? []), marker.text]);
  }
  return (
    <div>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={lines.map((line) => line.name).join(", ")}>
        {ticks.map((tick) => (
          <g key={tick}>
            <line x1={pad.left} x2={width - pad.right} y1={y(tick)} y2={y(tick)} stroke="#f0f0f0" />
            <text x={pad.left - 6} y={y(tick) + 4} textAnchor="end" fontSize="11" fill="#8c8c8c">
              {/* small scales keep a decimal, so that no two ticks read the same */}
              {max < 10 ? Math.round(tick * 10) / 10 : Math.round(tick)}
              {unit}
            </text>
          </g>
        ))}
        {labels.map((label, i) =>
          i % every === 0 ? (
            <text key={label} x={x(i)} y={height - 8} textAnchor="middle" fontSize="11" fill="#8c8c8c">
              {label.slice(5)}
            </text>
          ) : null,
        )}
        {[...releasedOn].map(([index, texts]) => (
          <g key={`release-${index}`} data-testid="release-marker">
            <line x1={x(index)} x2={x(index)} y1={pad.top} y2={height - pad.bottom} stroke="#000" strokeWidth="8" strokeOpacity="0" />
            <line x1={x(index)} x2={x(index)} y1={pad.top} y2={height - pad.bottom} stroke="#8c8c8c" strokeDasharray="4 3" />
            <title>{`${labels[index]}: ${texts.join("; ")}`}</title>
          </g>
        ))}
        {lines.map((line, n) => (
          <g key={line.name}>
            {segments(line.values).map((run) => (
              <g key={run[0][0]}>
                <polyline fill="none" stroke={COLORS[n % COLORS.length]} strokeWidth="2" points={run.map(([i, v]) => `${x(i)},${y(v)}`).join(" ")} />
                {run.map(([i, v]) => (
                  <circle key={i} cx={x(i)} cy={y(v)} r="3" fill={COLORS[n % COLORS.length]}>
                    <title>{`${line.name} on ${labels[i]}: ${v}${unit}`}</title>
                  </circle>
                ))}
              </g>
            ))}
          </g>
        ))}
      </svg>
      <div style={{ display: "flex", gap: 16, justifyContent: "center" }}>
        {lines.map((line, n) => (
          <span key={line.name}>
            <span style={{ display: "inline-block", width: 10, height: 10, borderRadius: 5, background: COLORS[n % COLORS.length], marginRight: 6 }} />
            {line.name}
          </span>
        ))}
      </div>
    </div>
  );
}

/** Retention cohorts as a heat map: one row per first day, one column per day after it. */
export function CohortHeatmap({ cohorts }: { cohorts: Cohort[] }) {
  if (cohorts.length === 0) return <Empty description="No cohorts in this date range yet." />;
  const days = Math.max(...cohorts.map((cohort) => cohort.retained.length));
  const cell: React.CSSProperties = { padding: "6px 8px", textAlign: "center", minWidth: 44, fontSize: 12 };
  return (
    <table style={{ borderCollapse: "collapse" }} data-testid="retention">
      <thead>
        <tr>
          <th style={cell}>First day</th>
          <th style={cell}>Users</th>
          {Array.from({ length: days }, (_, day) => (
            <th key={day} style={cell}>
              Day {day}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {cohorts.map((cohort) => (
          <tr key={cohort.cohort_date}>
            <td style={cell}>{cohort.cohort_date}</td>
            <td style={cell}>{cohort.users}</td>
            {cohort.retained.map((count, day) => {
              // a day after the cohort's that has not come yet: nothing to measure
              if (count === null) return <td key={day} style={cell} title={`Day ${day} has not come yet`} />;
              // a day without a single new user has no share to show
              if (!cohort.users)
                return (
                  <td key={day} style={cell} title="No new users on this day">
                    —
                  </td>
                );
              const share = cohort.users ? count / cohort.users : 0;
              return (
                <Tooltip key={day} title={`${count} of ${cohort.users} users came back on day ${day}`}>
                  <td style={{ ...cell, background: `rgba(22, 119, 255, ${0.08 + share * 0.85})`, color: share > 0.5 ? "#fff" : "#000" }}>{Math.round(share * 100)}%</td>
                </Tooltip>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
