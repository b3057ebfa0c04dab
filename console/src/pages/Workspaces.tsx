import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Form, Input, Modal, Popconfirm, Radio, Select, Space, Switch, Table, Tabs, Tag, Typography } from "antd";
import { useEffect, useRef, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { wholeLists } from "../api/queries";
import type { ApiKey, ApiKeyCreated, DeveloperWorkspace, Me, NotificationChoices, Role, Workspace, WorkspacePending } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { EditableDetails } from "../components/Details";
import { EditForm } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { SecretOnce } from "../components/SecretOnce";
import { VerifyEmailNotice } from "./Account";
import { can, ROLE_LABELS, useWorkspace, when } from "../workspace";

const STATUS_COLORS: Record<Workspace["status"] | DeveloperWorkspace["status"], string> = { active: "green", pending_approval: "gold", rejected: "red", withdrawn: "default" };

/** Wait until identity, told by an event, lists the caller as a member of `ws`. */
async function membershipOf(ws: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const me = await api.get<Me>(paths.me());
    if (me.memberships.some((m) => m.workspace_id === ws)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function CreateTenant({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: async (body: { name: string }) => {
      const created = await api.post<Workspace>(paths.workspaces(), { ...body, kind: "tenant" });
      await membershipOf(created.id);
      return created;
    },
    onSuccess: async (created) => {
      await queries.invalidateQueries();
      onClose();
      navigate(`/workspaces/${created.id}/miniprograms`);
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Modal open={open} title="Create a tenant workspace" okText="Create" onOk={() => form.submit()} onCancel={onClose} confirmLoading={create.isPending} destroyOnHidden>
      <Typography.Paragraph type="secondary">A tenant workspace holds your mini programs, host apps and members. You become its admin.</Typography.Paragraph>
      <Form form={form} layout="vertical" onFinish={(values) => create.mutate(values)}>
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, max: 100, message: "Name the workspace." }]}>
          <Input placeholder="Acme Super App" autoFocus />
        </Form.Item>
      </Form>
      <ProblemAlert error={create.error} form={form} />
    </Modal>
  );
}

function ApplyDeveloper({ open, onClose, tenants }: { open: boolean; onClose: () => void; tenants: Workspace[] }) {
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const apply = useMutation({
    mutationFn: (body: object) => api.post<WorkspacePending>(paths.workspaces(), { ...body, kind: "developer" }),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.workspaces() });
      message.success("Applied: the tenant's reviewers will approve or reject it.");
      onClose();
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Modal open={open} title="Apply for a developer workspace" okText="Apply" onOk={() => form.submit()} onCancel={onClose} confirmLoading={apply.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" initialValues={{ business_type: "self" }} onFinish={(values) => apply.mutate(values)}>
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, message: "Name the workspace." }]}>
          <Input />
        </Form.Item>
        <Form.Item label="Tenant workspace" name="parent_id" rules={[{ required: true, message: "Choose the tenant to develop for." }]}>
          <Select options={tenants.map((tenant) => ({ value: tenant.id, label: tenant.name }))} placeholder="A tenant you are a member of" />
        </Form.Item>
        <Form.Item label="Business" name="business_type">
          <Radio.Group options={[{ value: "self", label: "Our own business" }, { value: "isv", label: "Independent software vendor" }]} />
        </Form.Item>
      </Form>
      <ProblemAlert error={apply.error} form={form} />
    </Modal>
  );
}

export function Workspaces() {
  const [creating, setCreating] = useState(false);
  const [applying, setApplying] = useState(false);
  const workspaces = useQuery(wholeLists.workspaces());
  const items = workspaces.data?.items ?? [];
  const tenants = items.filter((item) => item.kind === "tenant" && item.status === "active");
  return (
    <Card
      title="Your workspaces"
      extra={
        <Space>
          {tenants.length > 0 && <Button onClick={() => setApplying(true)}>Apply for a developer workspace</Button>}
          <Button type="primary" onClick={() => setCreating(true)}>
            Create a tenant workspace
          </Button>
        </Space>
      }
    >
      <VerifyEmailNotice />
      <ProblemAlert error={workspaces.error} />
      <Table<Workspace>
        rowKey="id"
        loading={workspaces.isLoading}
        dataSource={items}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: "You are in no workspace yet: create a tenant workspace, or accept an invitation you were sent." }}
        columns={[
          { title: "Name", dataIndex: "name", render: (name, row) => (row.status === "active" ? <Link to={`/workspaces/${row.id}/miniprograms`}>{name}</Link> : name) },
          { title: "Kind", dataIndex: "kind" },
          { title: "Your role", dataIndex: "role", render: (role: Role | null) => (role ? ROLE_LABELS[role] : "—") },
          { title: "Status", dataIndex: "status", render: (status: Workspace["status"]) => <Tag color={STATUS_COLORS[status]}>{status.replace("_", " ")}</Tag> },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
      <CreateTenant open={creating} onClose={() => setCreating(false)} />
      <ApplyDeveloper open={applying} onClose={() => setApplying(false)} tenants={tenants} />
    </Card>
  );
}

export function WorkspaceHome() {
  const { ws } = useWorkspace();
  return <Navigate to={`/workspaces/${ws}/miniprograms`} replace />;
}

function GeneralInfo() {
  const { ws, role } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const [editing, setEditing] = useState(false);
  const workspace = useQuery({ queryKey: keys.workspace(ws), queryFn: () => api.get<Workspace>(paths.workspace(ws)) });
  const save = useMutation({
    mutationFn: (body: object) => api.patch<Workspace>(paths.workspace(ws), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.workspace(ws) });
      await queries.invalidateQueries({ queryKey: keys.workspaces() });
      setEditing(false);
    },
    onError: (error) => showFieldErrors(form, error),
  });
  if (workspace.error) return <ProblemAlert error={workspace.error} />;
  const data = workspace.data;
  if (editing && data)
    return (
      <EditForm form={form} maxWidth={480} initialValues={data} onSave={(values) => save.mutate(values)} error={save.error} busy={save.isPending} onCancel={() => setEditing(false)}>
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true }]}>
          <Input />
        </Form.Item>
        <Form.Item label="Business address" name="business_address">
          <Input />
        </Form.Item>
        <Form.Item label="Contact email" name="contact_email" rules={[{ type: "email" }]}>
          <Input />
        </Form.Item>
      </EditForm>
    );
  return (
    <EditableDetails
      canEdit={can.administer(role)}
      onEdit={() => setEditing(true)}
      items={[
        { label: "Name", children: data?.name },
        { label: "Kind", children: data?.kind },
        { label: "Status", children: data?.status },
        { label: "Business address", children: data?.business_address || "—" },
        { label: "Contact email", children: data?.contact_email || "—" },
        { label: "ID", children: <Typography.Text copyable>{ws}</Typography.Text> },
        { label: "Created", children: when(data?.created_at) },
      ]}
    />
  );
}

function ApiKeys() {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const [token, setToken] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: object) => api.post<ApiKeyCreated>(paths.apiKeys(ws), body),
    onSuccess: async (key) => {
      setToken(key.token);
      form.resetFields();
      await queries.invalidateQueries({ queryKey: keys.apiKeys(ws) });
    },
    onError: (error) => showFieldErrors(form, error),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.delete(paths.apiKey(ws, id)),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.apiKeys(ws) }),
  });
  return (
    <>
      <Typography.Paragraph type="secondary">API keys let scripts and the mpdp command line act in this workspace with a developer's or reviewer's rights.</Typography.Paragraph>
      <Form form={form} layout="inline" initialValues={{ role: "developer" }} onFinish={(values) => create.mutate(values)} style={{ marginBottom: 16 }}>
        <Form.Item name="label" rules={[{ required: true, whitespace: true, message: "Label the key." }]}>
          <Input placeholder="Label, e.g. CI uploads" />
        </Form.Item>
        <Form.Item name="role">
          <Select style={{ width: 140 }} options={[{ value: "developer", label: "Developer" }, { value: "reviewer", label: "Reviewer" }]} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={create.isPending}>
          Create API key
        </Button>
      </Form>
      <ProblemAlert error={create.error ?? revoke.error} form={form} style={{ marginBottom: 12 }} />
      <CursorTable<ApiKey>
        listKey={keys.apiKeys(ws)}
        path={paths.apiKeys(ws)}
        empty="No API keys yet: create one above for your automation."
        columns={[
          { title: "Label", dataIndex: "label" },
          { title: "Role", dataIndex: "role" },
          { title: "Created", dataIndex: "created_at", render: when },
          {
            title: "",
            render: (_, key) => (
              <Popconfirm title="Revoke this key? Scripts using it stop working at once." onConfirm={() => revoke.mutate(key.id)}>
                <Button danger size="small">
                  Revoke
                </Button>
              </Popconfirm>
            ),
          },
        ]}
      />
      <SecretOnce title="Your new API key" secret={token} onClose={() => setToken(null)} />
    </>
  );
}

function DeveloperWorkspaces() {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(paths.developerWorkspace(ws, id)),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.developerWorkspaces(ws) }),
  });
  return (
    <>
      <ProblemAlert error={remove.error} style={{ marginBottom: 12 }} />
      <CursorTable<DeveloperWorkspace>
        listKey={keys.developerWorkspaces(ws)}
        path={paths.developerWorkspaces(ws)}
        empty="No developer workspaces: partners apply for one from their workspace list, and you approve it under Approvals."
        columns={[
          { title: "Name", dataIndex: "name" },
          { title: "Status", dataIndex: "status", render: (status: DeveloperWorkspace["status"]) => <Tag color={STATUS_COLORS[status]}>{status.replace("_", " ")}</Tag> },
          { title: "Mini programs", dataIndex: "miniprogram_count" },
          ...(can.administer(role)
            ? [
                {
                  title: "",
                  render: (_: unknown, row: DeveloperWorkspace) => (
                    <Popconfirm title={`Remove ${row.name}?`} onConfirm={() => remove.mutate(row.id)}>
                      <Button danger size="small">
                        Remove
                      </Button>
                    </Popconfirm>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}

type Choice = keyof NotificationChoices;

/** Each kind of mail a member chooses, what it says and to whom, and which roles are sent any. */
const CHOICES: { name: Choice; label: string; says: string; roles: Role[] }[] = [
  {
    name: "approvals",
    label: "Approvals",
    says: "A request waiting for a decision, to the workspace's reviewers and admins; the decision on a request of yours, to you.",
    roles: ["admin", "reviewer", "developer"],
  },
  { name: "releases", label: "Releases", says: "A launch halted or released, to the workspace's admins and the mini program's assigned developers.", roles: ["admin", "developer"] },
  {
    name: "quality",
    label: "Quality",
    says: "A new or regressed crash issue (an hour apart at most for one issue) and a fired alert rule, to the admins and the assigned developers.",
    roles: ["admin", "developer"],
  },
];

/** The mails this member is sent about this workspace, each kind switched on or off and saved at once. */
function Notifications() {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const { hash } = useLocation();
  const card = useRef<HTMLDivElement>(null);
  const choices = useQuery({ queryKey: keys.notifications(ws), queryFn: () => api.get<NotificationChoices>(paths.notifications(ws)) });
  const save = useMutation({
    // every kind is sent: one left out would be switched on
    mutationFn: (next: NotificationChoices) => api.put<NotificationChoices>(paths.notifications(ws), next),
    onSuccess: (saved, sent) => {
      queries.setQueryData(keys.notifications(ws), saved);
      const changed = CHOICES.find(({ name }) => choices.data?.[name] !== sent[name]);
      message.success(changed ? `${changed.label} mails ${sent[changed.name] ? "on" : "off"}` : "Notifications saved");
    },
  });
  // a mail's link leads here (#notifications): the card comes into view once it is drawn
  const loaded = choices.data !== undefined;
  useEffect(() => {
    if (hash === "#notifications" && loaded) card.current?.scrollIntoView({ block: "start" });
  }, [hash, loaded]);
  const shown = save.isPending && save.variables ? save.variables : choices.data;
  return (
    <Card title="Notifications" id="notifications" ref={card} style={{ marginTop: 16 }} loading={choices.isLoading}>
      <Typography.Paragraph type="secondary">What you are mailed about in this workspace; your choices only, saved as you switch.</Typography.Paragraph>
      <ProblemAlert error={choices.error ?? save.error} style={{ marginBottom: 12 }} />
      {shown && (
        <Space orientation="vertical" size={16} style={{ width: "100%" }}>
          {CHOICES.map(({ name, label, says, roles }) => (
            <div key={name} style={{ display: "flex", gap: 12, alignItems: "flex-start" }}>
              <Switch
                id={`notify-${name}`}
                checked={shown[name]}
                disabled={save.isPending}
                aria-describedby={`notify-${name}-says`}
                onChange={(on) => save.mutate({ ...shown, [name]: on })}
              />
              <div style={{ minWidth: 0 }}>
                <label htmlFor={`notify-${name}`}>
                  <Typography.Text strong>{label}</Typography.Text>
                </label>
                <div id={`notify-${name}-says`}>
                  <Typography.Text type="secondary">
                    {says}
                    {role && !roles.includes(role) && " Your role is sent none of these."}
                  </Typography.Text>
                </div>
              </div>
            </div>
          ))}
        </Space>
      )}
    </Card>
  );
}

export function WorkspacePage() {
  const { role } = useWorkspace();
  return (
    <>
      <Card title="Workspace">
        <Tabs
          items={[
            { key: "general", label: "General info", children: <GeneralInfo /> },
            ...(can.administer(role) ? [{ key: "keys", label: "Key management", children: <ApiKeys /> }] : []),
            { key: "developer", label: "Developer workspaces", children: <DeveloperWorkspaces /> },
          ]}
        />
      </Card>
      <Notifications />
    </>
  );
}
