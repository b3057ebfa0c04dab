import { DeleteOutlined, PlusOutlined, SendOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Checkbox, Form, Grid, Input, Modal, Popconfirm, Space, Switch, Table, type TableColumnsType, Tag, Typography } from "antd";
import { useState } from "react";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Webhook, WebhookAttempt, WebhookCreated, WebhookDelivery, WebhookEvent } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { FormActions } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { SecretOnce } from "../components/SecretOnce";
import { useUrlState } from "../components/urlState";
import { can, useWorkspace, when } from "../workspace";

/** Every event a webhook may receive, in the order the form offers them, with what sends it. */
export const WEBHOOK_EVENTS: { name: WebhookEvent; says: string }[] = [
  { name: "approval.opened", says: "A request waits for a reviewer: a launch, a feature, a developer workspace…" },
  { name: "approval.decided", says: "A request is approved, rejected or withdrawn." },
  { name: "launch.status_changed", says: "A launch moves on: submitted, approved, rolling out, released, cancelled…" },
  { name: "launch.halted", says: "A launch's rollout is halted, with the figures that halted it." },
  { name: "version.uploaded", says: "A new version of a mini program is uploaded." },
  { name: "quality.issue.created", says: "A crash or error is seen for the first time." },
  { name: "quality.issue.regressed", says: "An issue marked resolved is seen again." },
  { name: "alert.fired", says: "An alert rule's threshold is crossed." },
  { name: "member.changed", says: "A member joins, leaves, is blocked or changes role." },
];

/** Below a tablet's width a table's columns are folded into one, that needs no sideways scrolling. */
function useNarrow(): boolean {
  return Grid.useBreakpoint().md === false;
}

const DELIVERY_COLORS: Record<WebhookDelivery["status"], string> = { pending: "gold", delivered: "green", failed: "red" };

/** An attempt's answer: the receiver's status code, or why none came. */
function answerOf(attempt: { status_code: number | null; error: string | null }) {
  if (attempt.status_code !== null) {
    const ok = attempt.status_code >= 200 && attempt.status_code < 300;
    return (
      <Space size={4} wrap>
        <Tag color={ok ? "green" : "red"}>{attempt.status_code}</Tag>
        {attempt.error && <Typography.Text type="secondary">{attempt.error}</Typography.Text>}
      </Space>
    );
  }
  return <Typography.Text type="danger">{attempt.error ?? "No answer"}</Typography.Text>;
}

/** A delivery's last answer: its status code, or that none came. */
function codeOf(delivery: WebhookDelivery) {
  return delivery.status_code ?? (delivery.attempts ? "no answer" : "—");
}

/** A delivery in one cell, for a phone. */
function DeliveryLine({ delivery, redeliver }: { delivery: WebhookDelivery; redeliver: React.ReactNode }) {
  return (
    <Space orientation="vertical" size={4} style={{ width: "100%" }}>
      <Space size={4} wrap>
        <Typography.Text code>{delivery.event}</Typography.Text>
        <Tag color={DELIVERY_COLORS[delivery.status]}>{delivery.status}</Tag>
        <Typography.Text>{codeOf(delivery)}</Typography.Text>
      </Space>
      <Typography.Text type="secondary">
        {when(delivery.created_at)} · {delivery.attempts} {delivery.attempts === 1 ? "attempt" : "attempts"}
        {delivery.next_attempt_at && ` · next ${when(delivery.next_attempt_at)}`}
      </Typography.Text>
      {redeliver}
    </Space>
  );
}

function CreateWebhook({ onCreated, onCancel }: { onCreated: (created: WebhookCreated) => void; onCancel: () => void }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const create = useMutation({
    mutationFn: (body: object) => api.post<WebhookCreated>(paths.webhooks(ws), body),
    onSuccess: onCreated,
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Form
      form={form}
      layout="vertical"
      initialValues={{ events: [] }}
      onFinish={(values: { url: string; events: WebhookEvent[]; description?: string }) =>
        create.mutate({ url: values.url.trim(), events: values.events, description: values.description?.trim() || null })
      }
    >
      <Form.Item
        label="URL"
        name="url"
        extra="A public address of yours; the platform posts each event to it as JSON."
        rules={[
          { required: true, whitespace: true, message: "Give the URL to post to." },
          { pattern: /^\s*https?:\/\//i, message: "A URL starting with https:// (or http://)." },
        ]}
      >
        <Input placeholder="https://hooks.example.com/mpdp" autoFocus inputMode="url" />
      </Form.Item>
      <Form.Item label="Events" name="events" rules={[{ required: true, type: "array", min: 1, message: "Choose at least one event." }]}>
        <Checkbox.Group style={{ display: "flex", flexDirection: "column", gap: 8 }}>
          {WEBHOOK_EVENTS.map(({ name, says }) => (
            <Checkbox key={name} value={name} style={{ alignItems: "flex-start" }}>
              <Typography.Text code>{name}</Typography.Text>
              <div>
                <Typography.Text type="secondary">{says}</Typography.Text>
              </div>
            </Checkbox>
          ))}
        </Checkbox.Group>
      </Form.Item>
      <Form.Item label="Description" name="description" rules={[{ max: 300 }]}>
        <Input placeholder="What it is for, e.g. Releases to the #launches channel" />
      </Form.Item>
      <FormActions error={create.error} busy={create.isPending} submitText="Add webhook" onCancel={onCancel} />
    </Form>
  );
}

/** How a receiver checks that a delivery comes from the platform, beside the secret it needs. */
function SignatureHowTo() {
  return (
    <Typography.Paragraph>
      Every delivery carries the header <Typography.Text code>X-MPDP-Signature-256</Typography.Text>, which is{" "}
      <Typography.Text code>sha256=</Typography.Text> followed by the hex HMAC-SHA256 of the raw request body, keyed with this secret. Compute it over the body's bytes as
      they arrive, before parsing the JSON, and compare in constant time. The webhooks page of the docs (<Typography.Text code>docs/webhooks.md</Typography.Text>) describes the
      events, headers and retries.
    </Typography.Paragraph>
  );
}

function Attempts({ history }: { history: WebhookAttempt[] }) {
  const narrow = useNarrow();
  const columns: TableColumnsType<WebhookAttempt> = narrow
    ? [
        {
          title: "Attempts",
          key: "attempt",
          render: (_, attempt, index) => (
            <Space orientation="vertical" size={2}>
              <Typography.Text>
                {index + 1}. {when(attempt.at)} · {attempt.duration_ms} ms
              </Typography.Text>
              {answerOf(attempt)}
            </Space>
          ),
        },
      ]
    : [
        { title: "Attempt", key: "number", render: (_, __, index) => index + 1 },
        { title: "Time", dataIndex: "at", render: when },
        { title: "Answer", key: "answer", render: (_, attempt) => answerOf(attempt) },
        { title: "Duration", dataIndex: "duration_ms", render: (ms: number) => `${ms} ms` },
      ];
  return (
    <Table<WebhookAttempt>
      data-testid="attempts"
      size="small"
      rowKey="at"
      pagination={false}
      dataSource={history}
      scroll={narrow ? undefined : { x: "max-content" }}
      tableLayout={narrow ? "fixed" : undefined}
      columns={columns}
    />
  );
}

function Deliveries({ id }: { id: string }) {
  const { ws } = useWorkspace();
  const queries = useQueryClient();
  const webhook = useQuery({ queryKey: keys.webhook(ws, id), queryFn: () => api.get<Webhook>(paths.webhook(ws, id)) });
  const { message } = AntApp.useApp();
  const redeliver = useMutation({
    mutationFn: (delivery: string) => api.post<WebhookDelivery>(paths.webhookRedeliver(ws, id, delivery)),
    onSuccess: async () => {
      message.success("Sent again: its new attempt is listed in a moment.");
      await queries.invalidateQueries({ queryKey: keys.webhookDeliveries(ws, id) });
    },
  });
  const narrow = useNarrow();
  const redeliverButton = (delivery: WebhookDelivery) => (
    <Button size="small" disabled={delivery.status === "pending"} loading={redeliver.isPending && redeliver.variables === delivery.id} onClick={() => redeliver.mutate(delivery.id)}>
      Redeliver
    </Button>
  );
  const columns: TableColumnsType<WebhookDelivery> = [
    { title: "Event", dataIndex: "event", render: (event: string) => <Typography.Text code>{event}</Typography.Text> },
    { title: "Status", dataIndex: "status", render: (status: WebhookDelivery["status"]) => <Tag color={DELIVERY_COLORS[status]}>{status}</Tag> },
    { title: "Status code", dataIndex: "status_code", render: (_, delivery) => codeOf(delivery) },
    { title: "Attempts", dataIndex: "attempts" },
    { title: "When", dataIndex: "created_at", render: when },
    { title: "Next attempt", dataIndex: "next_attempt_at", render: when },
    { title: "", key: "redeliver", render: (_, delivery) => redeliverButton(delivery) },
  ];
  return (
    <Card title="Deliveries" style={{ marginTop: 16 }} data-testid="deliveries">
      <Typography.Paragraph type="secondary" style={{ marginTop: -8, overflowWrap: "anywhere" }}>
        To {webhook.data?.url ?? "…"}, newest first; open one for every attempt.
      </Typography.Paragraph>
      <ProblemAlert error={webhook.error ?? redeliver.error} style={{ marginBottom: 12 }} />
      <CursorTable<WebhookDelivery>
        path={paths.webhookDeliveries(ws, id)}
        listKey={keys.webhookDeliveries(ws, id)}
        live={(page) => page.items.some((delivery) => delivery.status === "pending")}
        empty="Nothing sent to this webhook yet: Ping sends a test delivery, and each event it receives sends one as it happens."
        scroll={narrow ? undefined : { x: "max-content" }}
        tableLayout={narrow ? "fixed" : undefined}
        expandable={{
          rowExpandable: (delivery) => delivery.history.length > 0,
          expandedRowRender: (delivery) => <Attempts history={delivery.history} />,
        }}
        columns={narrow ? [{ title: "Deliveries", key: "delivery", render: (_, delivery) => <DeliveryLine delivery={delivery} redeliver={redeliverButton(delivery)} /> }] : columns}
      />
    </Card>
  );
}

/** The workspace's webhooks, for its admins: what each receives, switched on and off, pinged, and every delivery with its attempts. */
export function Webhooks() {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  // the webhook whose deliveries are shown, in the URL so that a reload shows them again
  const [selectedId, setSelectedId] = useUrlState("webhook", "");
  const narrow = useNarrow();
  const refresh = async (id?: string) => {
    await queries.invalidateQueries({ queryKey: keys.webhooks(ws) });
    if (id) await queries.invalidateQueries({ queryKey: keys.webhook(ws, id) });
  };
  const toggle = useMutation({
    mutationFn: ({ id, active }: { id: string; active: boolean }) => api.patch<Webhook>(paths.webhook(ws, id), { active }),
    onSuccess: async (webhook) => {
      message.success(webhook.active ? "Webhook on: it receives its events again." : "Webhook off: nothing is sent to it until it is on again.");
      await refresh(webhook.id);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(paths.webhook(ws, id)),
    onSuccess: async (_, id) => {
      message.success("Webhook deleted.");
      if (selectedId === id) setSelectedId(undefined);
      await refresh();
    },
  });
  const ping = useMutation({
    mutationFn: (webhook: Webhook) => api.post<WebhookDelivery>(paths.webhookPing(ws, webhook.id)),
    onSuccess: async (_, webhook) => {
      message.success("Ping sent: its delivery is listed below.");
      setSelectedId(webhook.id);
      await queries.invalidateQueries({ queryKey: keys.webhookDeliveries(ws, webhook.id) });
    },
  });
  if (!can.administer(role)) return <Card title="Webhooks">Only workspace admins manage webhooks.</Card>;
  const where = (webhook: Webhook) => (
    <Space orientation="vertical" size={0} style={{ maxWidth: narrow ? undefined : 320 }}>
      <Typography.Text style={{ wordBreak: "break-all" }}>{webhook.url}</Typography.Text>
      {webhook.description && <Typography.Text type="secondary">{webhook.description}</Typography.Text>}
    </Space>
  );
  const eventTags = (events: WebhookEvent[]) => (
    <Space size={[0, 4]} wrap style={{ maxWidth: 360 }}>
      {events.map((event) => (
        <Tag key={event}>{event}</Tag>
      ))}
    </Space>
  );
  const activeSwitch = (webhook: Webhook) => (
    <Switch
      checked={webhook.active}
      aria-label={`Active: ${webhook.url}`}
      checkedChildren={narrow ? "On" : undefined}
      unCheckedChildren={narrow ? "Off" : undefined}
      loading={toggle.isPending && toggle.variables?.id === webhook.id}
      onChange={(on) => toggle.mutate({ id: webhook.id, active: on })}
    />
  );
  const actions = (webhook: Webhook) => (
    <Space wrap>
      <Button size="small" type={webhook.id === selectedId ? "primary" : "default"} onClick={() => setSelectedId(webhook.id)}>
        Deliveries
      </Button>
      <Button size="small" icon={<SendOutlined />} loading={ping.isPending && ping.variables?.id === webhook.id} disabled={!webhook.active} onClick={() => ping.mutate(webhook)}>
        Ping
      </Button>
      <Popconfirm title="Delete this webhook?" description="Nothing more is sent to it, and its deliveries are forgotten." okText="Delete" okButtonProps={{ danger: true }} onConfirm={() => remove.mutate(webhook.id)}>
        <Button size="small" danger icon={<DeleteOutlined />} aria-label={`Delete ${webhook.url}`} />
      </Popconfirm>
    </Space>
  );
  return (
    <>
      <Card
        title="Webhooks"
        extra={
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
            Add webhook
          </Button>
        }
      >
        <Typography.Paragraph type="secondary">
          A webhook posts the events it receives to a URL of yours as they happen, signed with its secret, and tries again for a while when the receiver does not answer 2xx.
        </Typography.Paragraph>
        <ProblemAlert error={toggle.error ?? remove.error ?? ping.error} style={{ marginBottom: 12 }} />
        <CursorTable<Webhook>
          path={paths.webhooks(ws)}
          listKey={keys.webhooks(ws)}
          empty="No webhooks yet: add one to have this workspace's approvals, launches, uploads and crashes posted to your chat, ticketing or CI as they happen."
          scroll={narrow ? undefined : { x: "max-content" }}
          tableLayout={narrow ? "fixed" : undefined}
          onRow={(webhook) => (webhook.id === selectedId ? { style: { background: "#e6f4ff" } } : {})}
          columns={
            narrow
              ? [
                  {
                    title: "Webhook",
                    key: "webhook",
                    render: (_, webhook) => (
                      <Space orientation="vertical" size={8} style={{ width: "100%" }}>
                        {where(webhook)}
                        {eventTags(webhook.events)}
                        <Space wrap>
                          {activeSwitch(webhook)}
                          {actions(webhook)}
                        </Space>
                      </Space>
                    ),
                  },
                ]
              : [
                  { title: "URL", dataIndex: "url", render: (_, webhook) => where(webhook) },
                  { title: "Events", dataIndex: "events", render: (events: WebhookEvent[]) => eventTags(events) },
                  { title: "Active", dataIndex: "active", render: (_, webhook) => activeSwitch(webhook) },
                  { title: "", key: "actions", render: (_, webhook) => actions(webhook) },
                ]
          }
        />
      </Card>
      {selectedId && <Deliveries key={selectedId} id={selectedId} />}
      <Modal open={creating} title="Add a webhook" footer={null} onCancel={() => setCreating(false)} destroyOnHidden width={600}>
        <CreateWebhook
          onCancel={() => setCreating(false)}
          onCreated={async (created) => {
            setCreating(false);
            setSecret(created.secret);
            await refresh();
          }}
        />
      </Modal>
      <SecretOnce title="Your webhook's signing secret" secret={secret} extra={<SignatureHowTo />} onClose={() => setSecret(null)} />
    </>
  );
}
