import { useQuery } from "@tanstack/react-query";
import { Card, Col, Empty, Row, Statistic, Table, Tabs } from "antd";
import { useState } from "react";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Cohort, Overview, PageRank, PageRanking, TrackedEvent, TrackedEvents } from "../api/types";
import { CohortHeatmap, LineChart } from "../components/Charts";
import { ProblemAlert } from "../components/Problem";
import { useReleaseMarkers, useScope, type Scope } from "../components/Scope";
import { useUrlState } from "../components/urlState";
import { useWorkspace } from "../workspace";

// null where nothing was measured: a gap in a chart, a dash in a table
const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms / 100) / 10);

function Behaviour({ ws, scope }: { ws: string; scope: Scope }) {
  const overview = useQuery({ queryKey: keys.analytics(ws, "overview", scope), queryFn: () => api.get<Overview>(paths.analytics(ws, "overview"), { ...scope }) });
  const markers = useReleaseMarkers(ws, scope);
  if (overview.error) return <ProblemAlert error={overview.error} />;
  const series = overview.data?.series ?? [];
  const labels = series.map((row) => row.date);
  const totals = overview.data?.totals;
  return (
    <>
      <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
        <Col xs={12} md={6}>
          <Statistic title="Active users" value={totals?.active_users ?? 0} loading={overview.isLoading} />
        </Col>
        <Col xs={12} md={6}>
          <Statistic title="New users" value={totals?.new_users ?? 0} loading={overview.isLoading} />
        </Col>
        <Col xs={12} md={6}>
          <Statistic title="Sessions" value={totals?.sessions ?? 0} loading={overview.isLoading} />
        </Col>
        <Col xs={12} md={6}>
          <Statistic title="Page views" value={totals?.page_views ?? 0} loading={overview.isLoading} />
        </Col>
      </Row>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={12}>
          <Card size="small" title="Daily active and new users">
            <LineChart labels={labels} markers={markers} lines={[{ name: "Active users", values: series.map((row) => row.active_users) }, { name: "New users", values: series.map((row) => row.new_users) }]} />
          </Card>
        </Col>
        <Col xs={24} md={12}>
          <Card size="small" title="Sessions and page views">
            <LineChart labels={labels} markers={markers} lines={[{ name: "Sessions", values: series.map((row) => row.sessions) }, { name: "Page views", values: series.map((row) => row.page_views) }]} />
          </Card>
        </Col>
        <Col xs={24} md={12}>
          <Card size="small" title="Average session duration">
            <LineChart labels={labels} markers={markers} unit="s" lines={[{ name: "Seconds per session", values: series.map((row) => seconds(row.avg_session_duration_ms)) }]} />
          </Card>
        </Col>
      </Row>
    </>
  );
}

function Pages({ ws, scope }: { ws: string; scope: Scope }) {
  const pages = useQuery({ queryKey: keys.analytics(ws, "pages", scope), queryFn: () => api.get<PageRanking>(paths.analytics(ws, "pages"), { ...scope }) });
  if (pages.error) return <ProblemAlert error={pages.error} />;
  return (
    <Table<PageRank>
      rowKey="page"
      loading={pages.isLoading}
      dataSource={pages.data?.items ?? []}
      pagination={{ pageSize: 20, hideOnSinglePage: true }}
      locale={{ emptyText: "No page views in this range yet: they appear once the host app sends events." }}
      columns={[
        { title: "#", render: (_, __, index) => index + 1, width: 48 },
        { title: "Page", dataIndex: "page" },
        { title: "Views", dataIndex: "views" },
        { title: "Visitors", dataIndex: "visitors" },
        { title: "Average time on page (s)", dataIndex: "avg_duration_ms", render: (ms: number | null) => seconds(ms) ?? "—" },
      ]}
    />
  );
}

function Retention({ ws, scope }: { ws: string; scope: Scope }) {
  const retention = useQuery({
    queryKey: keys.analytics(ws, "retention", scope),
    queryFn: () => api.get<Cohort[]>(paths.analytics(ws, "retention"), { ...scope }),
  });
  if (retention.error) return <ProblemAlert error={retention.error} />;
  return <CohortHeatmap cohorts={retention.data ?? []} />;
}

function Events({ ws, scope }: { ws: string; scope: Scope }) {
  const [name, setName] = useState<string>();
  const events = useQuery({ queryKey: keys.analytics(ws, "events", scope), queryFn: () => api.get<TrackedEvents>(paths.analytics(ws, "events"), { ...scope }) });
  const daily = useQuery({
    queryKey: keys.eventCounts(ws, scope, name),
    queryFn: () => api.get<TrackedEvents>(paths.analytics(ws, "events"), { ...scope, name }),
    enabled: !!name,
  });
  const markers = useReleaseMarkers(ws, scope);
  if (events.error) return <ProblemAlert error={events.error} />;
  const series = daily.data?.series ?? [];
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} md={12}>
        <Table<TrackedEvent>
          rowKey="name"
          loading={events.isLoading}
          dataSource={events.data?.items ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          onRow={(row) => ({ onClick: () => setName(row.name), style: { cursor: "pointer" } })}
          locale={{ emptyText: "No tracked events yet: mini programs send them as custom events." }}
          columns={[
            { title: "Event", dataIndex: "name" },
            { title: "Count", dataIndex: "count" },
            { title: "Users", dataIndex: "users" },
          ]}
        />
      </Col>
      <Col xs={24} md={12}>
        <Card size="small" title={name ? `"${name}" per day` : "Daily series"}>
          {name ? <LineChart labels={series.map((row) => row.date)} markers={markers} lines={[{ name, values: series.map((row) => row.count) }]} /> : <Empty description="Choose an event to see it per day." />}
        </Card>
      </Col>
    </Row>
  );
}

export function AnalyticsPage() {
  const { ws } = useWorkspace();
  const { scope, picker, none, error } = useScope(ws);
  const [tab, setTab] = useUrlState("tab", "overview");
  return (
    <Card title="Analytics: user behaviour" extra={picker}>
      <ProblemAlert error={error} />
      {none ? (
        <Empty description="No mini programs to report on yet." />
      ) : scope.miniprogram_id ? (
        <Tabs
          activeKey={tab}
          onChange={setTab}
          items={[
            { key: "overview", label: "Overview", children: <Behaviour ws={ws} scope={scope} /> },
            { key: "pages", label: "Page ranking", children: <Pages ws={ws} scope={scope} /> },
            { key: "retention", label: "Retention", children: <Retention ws={ws} scope={scope} /> },
            { key: "events", label: "Tracked events", children: <Events ws={ws} scope={scope} /> },
          ]}
        />
      ) : null}
    </Card>
  );
}
