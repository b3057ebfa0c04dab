import { DownloadOutlined } from "@ant-design/icons";
import { Button, Card, DatePicker, Input, Space, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { session, withQuery } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { AuditLogEntry } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { ProblemAlert } from "../components/Problem";
import { useUrlState } from "../components/urlState";
import { can, useWorkspace, when } from "../workspace";

const ACTOR_KINDS: Record<AuditLogEntry["actor"]["kind"], { label: string; color: string }> = {
  account: { label: "Account", color: "blue" },
  api_key: { label: "API key", color: "purple" },
  system: { label: "System", color: "default" },
};

/** Who did it: the account, the API key with the account it acts for, or the part of the platform. */
export function Actor({ actor }: { actor: AuditLogEntry["actor"] }) {
  const kind = ACTOR_KINDS[actor.kind];
  return (
    <Space size={4} wrap>
      <Tag color={kind.color}>{kind.label}</Tag>
      <Typography.Text code>{actor.id}</Typography.Text>
      {actor.on_behalf_of && <Typography.Text type="secondary">for {actor.on_behalf_of}</Typography.Text>}
    </Space>
  );
}

const DAY = "YYYY-MM-DD";

/** The workspace's audit log, for its admins: newest first, filtered by action and days (kept in the URL), exported as NDJSON. */
export function AuditLog() {
  const { ws, role } = useWorkspace();
  const [action, setAction] = useUrlState("action", "");
  const [from, setFrom] = useUrlState("from", "");
  const [to, setTo] = useUrlState("to", "");
  const [typed, setTyped] = useState(action);
  const [error, setError] = useState<unknown>(null);
  if (!can.administer(role)) return <Card title="Audit log">Only workspace admins read the audit log.</Card>;
  const range = { from: from || undefined, to: to || undefined };
  const query = { action: action || undefined, ...range };
  const exportIt = () => session.download(withQuery(paths.auditLogExport(ws), range), `audit-log-${ws}.ndjson`).catch(setError);
  return (
    <Card
      title="Audit log"
      extra={
        <Button icon={<DownloadOutlined />} onClick={exportIt}>
          Export
        </Button>
      }
    >
      <Space wrap style={{ marginBottom: 16 }}>
        <Input.Search
          aria-label="Action"
          allowClear
          placeholder="Action, like workspace.app.created"
          style={{ width: 320 }}
          value={typed}
          onChange={(event) => setTyped(event.target.value)}
          onSearch={(value) => setAction(value.trim() || undefined)}
        />
        <DatePicker.RangePicker
          aria-label="Days"
          allowEmpty={[true, true]}
          value={[from ? dayjs(from) : null, to ? dayjs(to) : null]}
          onChange={(value) => {
            setFrom(value?.[0] ? value[0].format(DAY) : undefined);
            setTo(value?.[1] ? value[1].format(DAY) : undefined);
          }}
        />
      </Space>
      {error ? <ProblemAlert error={error} /> : null}
      <CursorTable<AuditLogEntry>
        path={paths.auditLog(ws)}
        listKey={keys.auditLog(ws)}
        query={query}
        empty={action || from || to ? "Nothing was done in this workspace that matches these filters." : "Nothing was done in this workspace yet."}
        scroll={{ x: "max-content" }}
        columns={[
          { title: "Time", dataIndex: "at", render: (at: string) => when(at) },
          { title: "Actor", dataIndex: "actor", render: (actor: AuditLogEntry["actor"]) => <Actor actor={actor} /> },
          { title: "Action", dataIndex: "action", render: (name: string) => <Typography.Text code>{name}</Typography.Text> },
          { title: "Subject", dataIndex: "subject", render: (subject: AuditLogEntry["subject"]) => `${subject.kind} ${subject.id}` },
          { title: "Summary", dataIndex: "summary" },
        ]}
      />
    </Card>
  );
}
