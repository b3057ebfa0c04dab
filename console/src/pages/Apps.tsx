import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Checkbox, Form, Input, Popconfirm, Space, Table, Tabs, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { wholeLists } from "../api/queries";
import type { App, AppKey, AppKeyCreated, AppKeyRotated, Deliverables, Page } from "../api/types";
import { CreateListCard, useCreateThenOpen } from "../components/CreateList";
import { CursorTable } from "../components/CursorTable";
import { EditableDetails } from "../components/Details";
import { FormActions } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { SecretOnce } from "../components/SecretOnce";
import { can, useWorkspace, when } from "../workspace";
import { curlSnippet, pythonSnippet, typescriptSnippet } from "./hostKit";

const KEY_COLORS: Record<AppKey["status"], string> = { active: "green", expiring: "gold", expired: "default", revoked: "red" };

function AppForm({ initial, onSubmit, busy, error, submitText, onCancel }: { initial?: App; onSubmit: (body: object) => void; busy: boolean; error: unknown; submitText: string; onCancel?: () => void }) {
  const [form] = Form.useForm();
  useEffect(() => {
    if (error) showFieldErrors(form, error);
  }, [error, form]);
  return (
    <Form form={form} layout="vertical" initialValues={initial ?? { platforms: ["ios", "android"] }} onFinish={onSubmit}>
      <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, message: "Name the host app." }]}>
        <Input />
      </Form.Item>
      <Form.Item label="Platforms" name="platforms" rules={[{ required: true, type: "array", min: 1, message: "Choose at least one platform." }]}>
        <Checkbox.Group options={[{ value: "ios", label: "iOS" }, { value: "android", label: "Android" }]} />
      </Form.Item>
      <Form.Item label="Bundle ID" name="bundle_id" rules={[{ required: true, message: "The app's bundle id, like com.example.app." }]}>
        <Input placeholder="com.example.superapp" />
      </Form.Item>
      <FormActions error={error} busy={busy} submitText={submitText} onCancel={onCancel} />
    </Form>
  );
}

export function Apps() {
  const { ws, role } = useWorkspace();
  const { creating, setCreating, form } = useCreateThenOpen<App>(paths.apps(ws), keys.apps(ws), (created) => `/workspaces/${ws}/apps/${created.id}`);
  return (
    <CreateListCard
      title="Host apps"
      addText="Add app"
      canAdd={can.administer(role)}
      creating={creating}
      setCreating={setCreating}
      dialogTitle="Add a host app"
      form={<AppForm {...form} submitText="Add" />}
    >
      <CursorTable<App>
        listKey={keys.apps(ws)}
        path={paths.apps(ws)}
        empty={can.administer(role) ? "No host apps yet: add the app that will run your mini programs." : "No host apps yet."}
        columns={[
          { title: "Name", dataIndex: "name", render: (name, row) => <Link to={`/workspaces/${ws}/apps/${row.id}`}>{name}</Link> },
          { title: "Platforms", dataIndex: "platforms", render: (platforms: string[]) => platforms.map((item) => <Tag key={item}>{item}</Tag>) },
          { title: "Bundle ID", dataIndex: "bundle_id" },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
    </CreateListCard>
  );
}

function Keys({ app }: { app: string }) {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const [secret, setSecret] = useState<{ key_id: string; secret: string } | null>(null);
  const admin = can.administer(role);
  // Only admins may read the keys: the others are told so rather than shown a refusal.
  const appKeys = useQuery({ queryKey: keys.appKeys(ws, app), queryFn: () => api.get<Page<AppKey>>(paths.appKeys(ws, app), { limit: 200 }), enabled: admin });
  const done = (key?: AppKeyCreated) => {
    if (key) setSecret({ key_id: key.key_id, secret: key.secret });
    return queries.invalidateQueries({ queryKey: keys.appKeys(ws, app) });
  };
  const create = useMutation({ mutationFn: () => api.post<AppKeyCreated>(paths.appKeys(ws, app), {}), onSuccess: done });
  const rotate = useMutation({ mutationFn: (id: string) => api.post<AppKeyRotated>(paths.appKeyRotate(ws, app, id), {}), onSuccess: done });
  const revoke = useMutation({ mutationFn: (id: string) => api.delete(paths.appKey(ws, app, id)), onSuccess: () => done() });
  if (!admin)
    return (
      <Card size="small" title="Keys" style={{ marginTop: 16 }}>
        <Typography.Paragraph type="secondary">The app's keys are kept by the workspace's admins: ask one for a key ID and its secret.</Typography.Paragraph>
        <HostKit />
      </Card>
    );
  return (
    <Card size="small" title="Keys" style={{ marginTop: 16 }} extra={admin && <Button type="primary" loading={create.isPending} onClick={() => create.mutate()}>Create key</Button>}>
      <ProblemAlert error={appKeys.error ?? create.error ?? rotate.error ?? revoke.error} style={{ marginBottom: 12 }} />
      <Table<AppKey>
        rowKey="id"
        loading={appKeys.isLoading}
        dataSource={appKeys.data?.items ?? []}
        pagination={{ pageSize: 10, hideOnSinglePage: true }}
        locale={{ emptyText: "No keys yet: create one for the app to sign its requests." }}
        columns={[
          { title: "Key ID", dataIndex: "key_id", render: (id) => <Typography.Text code copyable>{id}</Typography.Text> },
          { title: "Label", dataIndex: "label" },
          { title: "Status", dataIndex: "status", render: (status: AppKey["status"]) => <Tag color={KEY_COLORS[status]}>{status}</Tag> },
          { title: "Expires", dataIndex: "expires_at", render: when },
          { title: "Created", dataIndex: "created_at", render: when },
          ...(admin
            ? [
                {
                  title: "",
                  render: (_: unknown, key: AppKey) =>
                    key.status === "active" && (
                      <Space>
                        <Popconfirm title="Rotate: a new key is made, and this one keeps working for a day." onConfirm={() => rotate.mutate(key.id)}>
                          <Button size="small">Rotate</Button>
                        </Popconfirm>
                        <Popconfirm title="Revoke this key? The app's requests signed with it fail at once." onConfirm={() => revoke.mutate(key.id)}>
                          <Button size="small" danger>
                            Revoke
                          </Button>
                        </Popconfirm>
                      </Space>
                    ),
                },
              ]
            : []),
        ]}
      />
      <SecretOnce
        title="The key's secret"
        secret={secret?.secret ?? null}
        extra={
          <Typography.Paragraph>
            Key ID <Typography.Text code>{secret?.key_id}</Typography.Text>: the app signs its requests with this secret.
          </Typography.Paragraph>
        }
        onClose={() => setSecret(null)}
      />
      <HostKit keyId={appKeys.data?.items.find((key) => key.status === "active")?.key_id} />
    </Card>
  );
}

/** The host integration kit's snippet, for this platform and the app's newest active key. */
export function HostKit({ keyId }: { keyId?: string }) {
  const given = { baseUrl: window.location.origin, keyId: keyId ?? "mak_..." };
  const code = (text: string) => (
    <Typography.Paragraph copyable={{ text }}>
      <pre data-testid="host-kit-snippet" style={{ margin: 0, fontSize: 12, overflowX: "auto" }}>
        {text}
      </pre>
    </Typography.Paragraph>
  );
  return (
    <Card size="small" type="inner" title="Integrate with the host kit" style={{ marginTop: 16 }}>
      <Typography.Paragraph type="secondary">
        The host kit signs delivery, verifies and caches packages, batches analytics and gives the crash-report DSN: <Typography.Text code>@mpdp/host</Typography.Text> (sdk/js) for web, web view and Node hosts,{" "}
        <Typography.Text code>mpdp-host</Typography.Text> (sdk/python) for host backends. The secret is shown once, when a key is created.
      </Typography.Paragraph>
      <Tabs
        items={[
          { key: "typescript", label: "TypeScript", children: code(typescriptSnippet(given)) },
          { key: "python", label: "Python", children: code(pythonSnippet(given)) },
          { key: "curl", label: "curl", children: code(curlSnippet(given)) },
        ]}
      />
    </Card>
  );
}

const CHANNEL_COLORS: Record<string, string> = { released: "green", grayscale: "blue", pilot: "purple" };

/** What the app would deliver to one of its users now, without its key: a check of its launches. */
export function DeliveryCheck({ app }: { app: string }) {
  const { ws } = useWorkspace();
  const [asked, setAsked] = useState<{ user_id: string; host_version?: string } | null>(null);
  const answer = useQuery({
    queryKey: ["delivery", ws, app, asked],
    queryFn: () => api.get<Deliverables>(paths.appDelivery(ws, app), { user_id: asked?.user_id, host_version: asked?.host_version }),
    enabled: asked !== null,
  });
  const names = new Map((useQuery(wholeLists.miniprograms(ws)).data?.items ?? []).map((item) => [item.id, item.name]));
  return (
    <Card size="small" title="Test delivery" style={{ marginTop: 16 }}>
      <Typography.Paragraph type="secondary">What this app gets for one of its users now: their pilot, grayscale or released version of each mini program.</Typography.Paragraph>
      <Form layout="inline" onFinish={({ user_id, host_version }) => setAsked({ user_id: user_id.trim(), host_version: host_version?.trim() || undefined })}>
        <Form.Item name="user_id" rules={[{ required: true, whitespace: true, message: "Name a user of the app." }]}>
          <Input aria-label="User ID" placeholder="The app's user ID" style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="host_version">
          <Input aria-label="Host version" placeholder="Host version (optional)" style={{ width: 180 }} />
        </Form.Item>
        <Button htmlType="submit" loading={answer.isFetching}>
          Check
        </Button>
      </Form>
      <ProblemAlert error={answer.error} style={{ marginTop: 12 }} />
      {answer.data && (
        <Table
          style={{ marginTop: 12 }}
          size="small"
          rowKey="miniprogram_id"
          pagination={false}
          dataSource={answer.data.items}
          locale={{ emptyText: `Nothing is delivered to ${asked?.user_id} on this app yet.` }}
          columns={[
            { title: "Mini program", dataIndex: "miniprogram_id", render: (id: string) => <Link to={`/workspaces/${ws}/miniprograms/${id}/launches`}>{names.get(id) ?? id}</Link> },
            { title: "Version", dataIndex: "version" },
            { title: "Why", dataIndex: "channel", render: (channel: string) => <Tag color={CHANNEL_COLORS[channel]}>{channel}</Tag> },
          ]}
        />
      )}
    </Card>
  );
}

export function AppDetail() {
  const { ws, role } = useWorkspace();
  const { app: id = "" } = useParams();
  const [editing, setEditing] = useState(false);
  const queries = useQueryClient();
  const app = useQuery({ queryKey: keys.app(ws, id), queryFn: () => api.get<App>(paths.app(ws, id)) });
  const save = useMutation({
    mutationFn: (body: object) => api.patch<App>(paths.app(ws, id), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.app(ws, id) });
      setEditing(false);
    },
  });
  if (app.error) return <ProblemAlert error={app.error} />;
  if (!app.data) return <Card loading />;
  return (
    <Card title={<Link to={`/workspaces/${ws}/apps`}>Host apps</Link>} extra={<Typography.Title level={4} style={{ margin: 0 }}>{app.data.name}</Typography.Title>}>
      {editing ? (
        <AppForm initial={app.data} onSubmit={(body) => save.mutate(body)} busy={save.isPending} error={save.error} submitText="Save" onCancel={() => setEditing(false)} />
      ) : (
        <EditableDetails
          canEdit={can.administer(role)}
          onEdit={() => setEditing(true)}
          items={[
            { label: "Name", children: app.data.name },
            { label: "Platforms", children: app.data.platforms.join(", ") },
            { label: "Bundle ID", children: app.data.bundle_id },
            { label: "ID", children: <Typography.Text copyable>{app.data.id}</Typography.Text> },
            { label: "Created", children: when(app.data.created_at) },
          ]}
        />
      )}
      <Keys app={id} />
      <DeliveryCheck app={id} />
    </Card>
  );
}
