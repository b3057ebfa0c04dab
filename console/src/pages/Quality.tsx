import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Col, Descriptions, Empty, Row, Segmented, Select, Space, Statistic, Table, Tag, Typography } from "antd";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Issue, IssueWithEvent, QualitySummary, StartupTimes } from "../api/types";
import { LineChart, type Marker } from "../components/Charts";
import { CursorTable } from "../components/CursorTable";
import { ItemTitle } from "../components/Details";
import { ProblemAlert } from "../components/Problem";
import { useReleaseMarkers, useScope, type Scope } from "../components/Scope";
import { useUrlState } from "../components/urlState";
import { can, useWorkspace, when } from "../workspace";
import { AlertRules } from "./AlertRules";

/** Sentry's levels: an info message is not a crash. */
const LEVEL_COLORS: Record<string, string> = { fatal: "magenta", error: "red", warning: "orange", info: "blue", debug: "default" };
const ISSUE_COLORS: Record<Issue["status"], string> = { unresolved: "red", resolved: "green", ignored: "default" };
/** A share (0..1) as a percentage; a dash where there was nothing to count. */
const percent = (value: number | null | undefined) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(2)}%`);

function Startup({ ws, scope }: { ws: string; scope: Scope }) {
  const startup = useQuery({
    queryKey: keys.quality(ws, "startup", scope),
    queryFn: () => api.get<StartupTimes>(paths.quality(ws, "startup"), { ...scope }),
  });
  const markers = useReleaseMarkers(ws, scope);
  if (startup.error) return <ProblemAlert error={startup.error} />;
  const days = startup.data?.by_day ?? [];
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} md={14}>
        <LineChart
          labels={days.map((row) => row.date)}
          markers={markers}
          unit="ms"
          lines={(["p50", "p90", "p99"] as const).map((key) => ({ name: key, values: days.map((row) => row[key]) }))}
        />
      </Col>
      <Col xs={24} md={10}>
        <Table<StartupTimes["by_version"][number]>
          rowKey="version"
          size="small"
          dataSource={startup.data?.by_version ?? []}
          pagination={false}
          locale={{ emptyText: "No launches measured yet." }}
          columns={[{ title: "Version", dataIndex: "version" }, ...(["p50", "p90", "p99"] as const).map((key) => ({ title: `${key} (ms)`, dataIndex: key }))]}
        />
      </Col>
    </Row>
  );
}

const ISSUE_SORTS = [
  { value: "last_seen", label: "Latest crash" },
  { value: "events", label: "Most events" },
  { value: "first_seen", label: "Newest" },
];

/** A mini program's crash groups of one status, in the order the operator picks: what crashes now, by default. */
export function Issues({ ws, miniprogramId }: { ws: string; miniprogramId: string }) {
  const [status, setStatus] = useUrlState("status", "unresolved");
  const [sort, setSort] = useUrlState("sort", "last_seen");
  return (
    <Card
      size="small"
      title="Issues"
      extra={
        <Space>
          <Select aria-label="Order issues by" value={sort} onChange={setSort} options={ISSUE_SORTS} style={{ width: 140 }} />
          <Segmented value={status} onChange={(value) => setStatus(String(value))} options={["unresolved", "resolved", "ignored"]} />
        </Space>
      }
    >
      <CursorTable<Issue>
        listKey={keys.issues(ws)}
        path={paths.quality(ws, "issues")}
        query={{ miniprogram_id: miniprogramId, status, sort }}
        empty={status === "unresolved" ? "No unresolved crashes: nothing to fix right now." : `No ${status} issues.`}
        columns={[
          { title: "Issue", dataIndex: "title", render: (title, row) => <Link to={`/workspaces/${ws}/quality/${row.id}`}>{title}</Link> },
          { title: "Level", dataIndex: "level", render: (level: string) => <Tag color={LEVEL_COLORS[level] ?? "default"}>{level}</Tag> },
          { title: "Where", dataIndex: "culprit", ellipsis: true },
          { title: "Events", dataIndex: "count" },
          { title: "Users", dataIndex: "users" },
          { title: "Last seen", dataIndex: "last_seen", render: when },
          { title: "Status", dataIndex: "status", render: (value: Issue["status"], row) => <Tag color={ISSUE_COLORS[value]}>{row.regressed ? "regressed" : value}</Tag> },
        ]}
      />
    </Card>
  );
}

/** A share (0..1) as a percentage with two decimals, for a chart; null stays a gap. */
const chartPercent = (value: number | null) => (value === null ? null : Math.round(value * 10000) / 100);

/** Each day's crash-free sessions and users, with the releases that reached users on those days, beside each version's. */
function CrashFree({ summary, markers }: { summary: QualitySummary | undefined; markers: Marker[] }) {
  const days = summary?.by_day ?? [];
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} md={14}>
        <LineChart
          labels={days.map((row) => row.date)}
          markers={markers}
          unit="%"
          top={100}
          lines={[
            { name: "Crash-free sessions", values: days.map((row) => chartPercent(row.crash_free_sessions)) },
            { name: "Crash-free users", values: days.map((row) => chartPercent(row.crash_free_users)) },
          ]}
        />
      </Col>
      <Col xs={24} md={10}>
        <Table<QualitySummary["by_version"][number]>
          rowKey="version"
          size="small"
          dataSource={summary?.by_version ?? []}
          pagination={false}
          locale={{ emptyText: "No sessions counted yet." }}
          columns={[
            { title: "Version", dataIndex: "version" },
            { title: "Sessions", dataIndex: "sessions" },
            { title: "Crash-free sessions", dataIndex: "crash_free_sessions", render: percent },
            { title: "Crash-free users", dataIndex: "crash_free_users", render: percent },
          ]}
        />
      </Col>
    </Row>
  );
}

export function QualityPage() {
  const { ws } = useWorkspace();
  const { scope, picker, none, error } = useScope(ws);
  const summary = useQuery({
    queryKey: keys.quality(ws, "summary", scope),
    queryFn: () => api.get<QualitySummary>(paths.quality(ws, "summary"), { ...scope }),
    enabled: !!scope.miniprogram_id,
  });
  const markers = useReleaseMarkers(ws, scope);
  return (
    <Card title="Quality: crashes and startup" extra={picker}>
      <ProblemAlert error={error ?? summary.error} />
      {none ? (
        <Empty description="No mini programs to report on yet." />
      ) : scope.miniprogram_id ? (
        <Space orientation="vertical" size="large" style={{ width: "100%" }}>
          <Row gutter={[16, 16]}>
            <Col xs={12} md={6}>
              <Statistic title="Crash-free users" value={percent(summary.data?.crash_free_users)} loading={summary.isLoading} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title="Crash-free sessions" value={percent(summary.data?.crash_free_sessions)} loading={summary.isLoading} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title="Crash reports" value={summary.data?.error_count ?? 0} loading={summary.isLoading} />
            </Col>
            <Col xs={12} md={6}>
              <Statistic title="JS errors (ingest)" value={summary.data?.js_errors ?? 0} loading={summary.isLoading} />
            </Col>
          </Row>
          <Card size="small" title="Crash-free sessions and users per day">
            <CrashFree summary={summary.data} markers={markers} />
          </Card>
          <Issues ws={ws} miniprogramId={scope.miniprogram_id} />
          <AlertRules miniprogramId={scope.miniprogram_id} />
          <Card size="small" title="Startup time (app_launch duration)">
            <Startup ws={ws} scope={scope} />
          </Card>
        </Space>
      ) : null}
    </Card>
  );
}

interface Frame {
  filename?: string;
  function?: string;
  lineno?: number;
  colno?: number;
  module?: string;
  pre_context?: string[];
  context_line?: string;
  post_context?: string[];
  /** the minified frame, where the version's source maps resolved this one */
  raw?: Frame;
}

/** The frames of the latest event's stack trace, innermost first, wherever the SDK put them. */
export function framesOf(event: IssueWithEvent["latest_event"]): Frame[] {
  const exception = (event?.exception as { values?: { stacktrace?: { frames?: Frame[] } }[] } | undefined)?.values ?? [];
  const frames = exception.flatMap((value) => value.stacktrace?.frames ?? []);
  const direct = (event?.stacktrace as { frames?: Frame[] } | undefined)?.frames ?? [];
  return [...frames, ...direct].reverse();
}

const frameLine = (frame: Frame) => `at ${frame.function ?? "?"} (${frame.filename ?? frame.module ?? "?"}:${frame.lineno ?? "?"}${frame.colno ? `:${frame.colno}` : ""})`;

/** One frame, and the source lines around it where the map carried them. */
function FrameView({ frame }: { frame: Frame }) {
  const context = frame.context_line !== undefined && frame.lineno !== undefined;
  const first = (frame.lineno ?? 0) - (frame.pre_context?.length ?? 0);
  const lines = context ? [...(frame.pre_context ?? []), frame.context_line ?? "", ...(frame.post_context ?? [])] : [];
  return (
    <div data-testid="frame" style={{ marginBottom: context ? 12 : 2 }}>
      <div>{frameLine(frame)}</div>
      {lines.map((text, index) => (
        <div key={index} data-testid={first + index === frame.lineno ? "frame-line" : undefined} style={first + index === frame.lineno ? { background: "#fff1f0", fontWeight: 600 } : { color: "#595959" }}>
          <span style={{ display: "inline-block", width: "4em", textAlign: "right", marginRight: 12, color: "#8c8c8c", userSelect: "none" }}>{first + index}</span>
          {text}
        </div>
      ))}
    </div>
  );
}

/** A stack trace in its original source where source maps resolved it, with a switch to the minified frames. */
export function StackTrace({ frames }: { frames: Frame[] }) {
  const [shown, setShown] = useUrlState("frames", "original");
  const resolved = frames.some((frame) => frame.raw);
  const minified = resolved && shown === "minified";
  return (
    <>
      {resolved ? (
        <Segmented
          style={{ marginBottom: 8 }}
          value={minified ? "minified" : "original"}
          onChange={(value) => setShown(String(value))}
          options={[
            { label: "Original source", value: "original" },
            { label: "Minified", value: "minified" },
          ]}
        />
      ) : (
        <Typography.Paragraph type="secondary">
          Minified as it ran: upload the version's source maps (<Typography.Text code>*.js.map</Typography.Text> in the package, or with <Typography.Text code>mpdp upload --sourcemaps</Typography.Text>) to read it in the original source.
        </Typography.Paragraph>
      )}
      <pre data-testid="stack-trace" style={{ background: "#fafafa", padding: 12, border: "1px solid #f0f0f0", overflowX: "auto" }}>
        {frames.map((frame, index) => (
          <FrameView key={index} frame={minified ? (frame.raw ?? frame) : frame} />
        ))}
      </pre>
    </>
  );
}

export function IssueDetail() {
  const { ws, role } = useWorkspace();
  const { issue: id = "" } = useParams();
  const queries = useQueryClient();
  const issue = useQuery({ queryKey: keys.issue(ws, id), queryFn: () => api.get<IssueWithEvent>(paths.qualityIssue(ws, id)) });
  const change = useMutation({
    mutationFn: (status: Issue["status"]) => api.patch<IssueWithEvent>(paths.qualityIssue(ws, id), { status }),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.issue(ws, id) });
      await queries.invalidateQueries({ queryKey: keys.issues(ws) });
    },
  });
  if (issue.error) return <ProblemAlert error={issue.error} />;
  const data = issue.data;
  if (!data) return <Card loading />;
  const frames = framesOf(data.latest_event);
  return (
    <Card title={<Link to={`/workspaces/${ws}/quality`}>Quality</Link>} extra={<Tag color={ISSUE_COLORS[data.status]}>{data.regressed ? "regressed" : data.status}</Tag>}>
      <ItemTitle>{data.title}</ItemTitle>
      <Descriptions
        bordered
        column={2}
        items={[
          { label: "Where", children: data.culprit },
          { label: "Level", children: data.level },
          { label: "Events", children: data.count },
          { label: "Users", children: data.users },
          { label: "First seen", children: when(data.first_seen) },
          { label: "Last seen", children: when(data.last_seen) },
          { label: "Versions", children: data.versions.join(", ") },
        ]}
      />
      {can.develop(role) && (
        <Space style={{ marginTop: 16 }}>
          {data.status !== "resolved" && (
            <Button type="primary" loading={change.isPending} onClick={() => change.mutate("resolved")}>
              Resolve
            </Button>
          )}
          {data.status !== "ignored" && (
            <Button loading={change.isPending} onClick={() => change.mutate("ignored")}>
              Ignore
            </Button>
          )}
          {data.status !== "unresolved" && (
            <Button loading={change.isPending} onClick={() => change.mutate("unresolved")}>
              Reopen
            </Button>
          )}
        </Space>
      )}
      <ProblemAlert error={change.error} style={{ marginTop: 12 }} />
      <Typography.Title level={5} style={{ marginTop: 24 }}>
        Stack trace of the latest event
      </Typography.Title>
      {frames.length ? (
        <StackTrace frames={frames} />
      ) : (
        <pre data-testid="stack-trace" style={{ background: "#fafafa", padding: 12 }}>
          {JSON.stringify(data.latest_event, null, 2)}
        </pre>
      )}
    </Card>
  );
}

