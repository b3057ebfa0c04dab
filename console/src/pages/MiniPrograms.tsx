import { InboxOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Form, Input, Modal, Progress, Select, Space, Tabs, Tag, Typography, Upload } from "antd";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, session, upload } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { wholeLists } from "../api/queries";
import type { Dsn, MiniProgram, MiniProgramFeature, Testers, Version } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { EditableDetails } from "../components/Details";
import { EditForm } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { bytes, can, useWorkspace, when } from "../workspace";
import { AtAGlance, LAUNCH_COLORS, Launches, NewLaunch, onHostApps, stateLabel } from "./Launches";

function CreateMiniProgram({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: (body: object) => api.post<MiniProgram>(paths.miniprograms(ws), body),
    onSuccess: async (created) => {
      await queries.invalidateQueries({ queryKey: keys.miniprograms(ws) });
      onClose();
      navigate(`/workspaces/${ws}/miniprograms/${created.id}`);
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Modal open={open} title="Create a mini program" okText="Create" onOk={() => form.submit()} onCancel={onClose} confirmLoading={create.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" onFinish={(values) => create.mutate(values)}>
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, max: 100, message: "Name the mini program." }]}>
          <Input autoFocus />
        </Form.Item>
        <Form.Item label="Description" name="description">
          <Input.TextArea rows={3} maxLength={4000} />
        </Form.Item>
      </Form>
      <ProblemAlert error={create.error} form={form} />
    </Modal>
  );
}

export function MiniPrograms() {
  const { ws, role } = useWorkspace();
  const [creating, setCreating] = useState(false);
  return (
    <Card
      title="Mini programs"
      extra={
        can.administer(role) && (
          <Button type="primary" onClick={() => setCreating(true)}>
            Create mini program
          </Button>
        )
      }
    >
      <CursorTable<MiniProgram>
        listKey={keys.miniprograms(ws)}
        path={paths.miniprograms(ws)}
        empty={can.administer(role) ? "No mini programs yet: create the first one." : "No mini programs are assigned to you yet: ask a workspace admin to assign you."}
        columns={[
          { title: "Name", dataIndex: "name", render: (name, row) => <Link to={`/workspaces/${ws}/miniprograms/${row.id}`}>{name}</Link> },
          { title: "Description", dataIndex: "description", ellipsis: true },
          { title: "Status", dataIndex: "status", render: (status) => <Tag>{status}</Tag> },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
      <CreateMiniProgram open={creating} onClose={() => setCreating(false)} />
    </Card>
  );
}

function Details({ miniprogram }: { miniprogram: MiniProgram }) {
  const { ws, role } = useWorkspace();
  const [form] = Form.useForm();
  const [editing, setEditing] = useState(false);
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: (body: object) => api.patch<MiniProgram>(paths.miniprogram(ws, miniprogram.id), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.miniprogram(ws, miniprogram.id) });
      setEditing(false);
    },
    onError: (error) => showFieldErrors(form, error),
  });
  if (editing)
    return (
      <EditForm form={form} maxWidth={520} initialValues={miniprogram} onSave={(values) => save.mutate(values)} error={save.error} busy={save.isPending} onCancel={() => setEditing(false)}>
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true }]}>
          <Input />
        </Form.Item>
        <Form.Item label="Description" name="description">
          <Input.TextArea rows={3} />
        </Form.Item>
      </EditForm>
    );
  return (
    <EditableDetails
      canEdit={can.administer(role)}
      onEdit={() => setEditing(true)}
      items={[
        { label: "Name", children: miniprogram.name },
        { label: "Description", children: miniprogram.description || "—" },
        { label: "Status", children: <Tag>{miniprogram.status}</Tag> },
        { label: "ID", children: <Typography.Text copyable>{miniprogram.id}</Typography.Text> },
        { label: "Telemetry project", children: miniprogram.telemetry_id ?? "—" },
        { label: "Created", children: when(miniprogram.created_at) },
      ]}
    />
  );
}

function UploadVersion({ mp, onDone }: { mp: string; onDone: () => void }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const send = async ({ version, notes }: { version: string; notes?: string }) => {
    if (!file) {
      form.setFields([{ name: "package", errors: ["Choose the package (.zip) to upload."] }]);
      return;
    }
    const body = new FormData();
    body.set("version", version);
    if (notes) body.set("notes", notes);
    body.set("package", file);
    setError(null);
    setProgress(0);
    try {
      await upload<Version>(paths.versions(ws, mp), body, setProgress);
      form.resetFields();
      setFile(null);
      onDone();
    } catch (failure) {
      showFieldErrors(form, failure);
      setError(failure);
    } finally {
      setProgress(null);
    }
  };
  return (
    <Form form={form} layout="vertical" onFinish={send} style={{ maxWidth: 560 }} initialValues={{ version: "", notes: "", package: undefined }}>
      <Form.Item label="Version" name="version" rules={[{ required: true, pattern: /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/, message: "A semantic version such as 1.0.0." }]}>
        <Input placeholder="1.0.0" />
      </Form.Item>
      <Form.Item label="Package" name="package" extra="A zip with app.json at its root listing the pages; each page needs its .js file.">
        <Upload.Dragger
          accept=".zip,application/zip"
          maxCount={1}
          beforeUpload={(chosen) => {
            setFile(chosen);
            form.setFields([{ name: "package", errors: [] }]);
            return false;
          }}
          onRemove={() => setFile(null)}
          fileList={file ? [{ uid: "package", name: file.name, status: "done" }] : []}
        >
          <p className="ant-upload-drag-icon">
            <InboxOutlined />
          </p>
          <p>Click or drag the package here</p>
        </Upload.Dragger>
      </Form.Item>
      <Form.Item label="Release notes" name="notes">
        <Input.TextArea rows={2} />
      </Form.Item>
      {progress !== null && <Progress percent={progress} status="active" data-testid="upload-progress" />}
      <ProblemAlert error={error} form={form} style={{ marginBottom: 12 }} />
      <Button type="primary" htmlType="submit" loading={progress !== null}>
        Upload version
      </Button>
    </Form>
  );
}

/** The features that would grant the JSAPIs a version uses without a grant, each requested in a click. */
function GrantingFeatures({ mp, names }: { mp: string; names: Set<string> }) {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const features = useQuery(wholeLists.features(ws));
  const jsapis = useQuery(wholeLists.jsapis(ws));
  const [requested, setRequested] = useState<string[]>([]);
  const request = useMutation({
    mutationFn: (feature_id: string) => api.post<MiniProgramFeature>(paths.miniprogramFeatures(ws, mp), { feature_id }),
    onSuccess: async (_answer, feature_id) => {
      setRequested((done) => [...done, feature_id]);
      await queries.invalidateQueries({ queryKey: keys.miniprogramFeatures(ws, mp) });
    },
  });
  if (!can.develop(role)) return null;
  const nameOf = new Map((jsapis.data?.items ?? []).map((jsapi) => [jsapi.id, jsapi.name]));
  const granting = (features.data?.items ?? [])
    .map((feature) => ({ feature, grants: feature.jsapi_ids.map((id) => nameOf.get(id) ?? "").filter((name) => names.has(name)) }))
    .filter(({ grants }) => grants.length > 0);
  if (features.isLoading || jsapis.isLoading) return null;
  return (
    <Space wrap>
      {granting.length === 0 && <Typography.Text type="secondary">No feature of this workspace grants them: ask an admin to add one.</Typography.Text>}
      {granting.map(({ feature, grants }) => (
        <Button key={feature.id} size="small" disabled={requested.includes(feature.id)} loading={request.isPending && request.variables === feature.id} onClick={() => request.mutate(feature.id)}>
          {requested.includes(feature.id) ? `${feature.name} requested` : `Request ${feature.name}`} ({grants.join(", ")})
        </Button>
      ))}
      <ProblemAlert error={request.error} />
    </Space>
  );
}

/** What the catalog found in a version's package at upload: pages, JSAPIs, source maps, warnings;
 * with `mp`, the features that would grant what is not granted, to request. */
export function PackageReport({ report, mp }: { report: NonNullable<Version["report"]>; mp?: string }) {
  const notGranted = new Set(report.jsapis_not_granted ?? []);
  return (
    <Space orientation="vertical" size="small" style={{ width: "100%" }}>
      <Typography.Text>
        {report.files} files, {bytes(report.size)}
      </Typography.Text>
      <div>
        <Typography.Text strong>Pages: </Typography.Text>
        {(report.pages ?? []).map((page) => (
          <Tag key={page.page}>
            {page.page} · {bytes(page.size)}
          </Tag>
        ))}
      </div>
      <div>
        <Typography.Text strong>JSAPIs used: </Typography.Text>
        {(report.jsapis_used ?? []).length === 0 && <Typography.Text type="secondary">none</Typography.Text>}
        {(report.jsapis_used ?? []).map((name) => (
          <Tag key={name} color={notGranted.has(name) ? "red" : undefined} title={notGranted.has(name) ? "not granted: request a feature that grants it" : undefined}>
            my.{name}
          </Tag>
        ))}
      </div>
      {notGranted.size > 0 && (
        <Typography.Text type="danger">
          Not granted to this mini program at upload: {[...notGranted].join(", ")}. Request a feature that grants them before submitting a launch.
        </Typography.Text>
      )}
      {notGranted.size > 0 && mp && <GrantingFeatures mp={mp} names={notGranted} />}
      <div>
        <Typography.Text strong>Source maps: </Typography.Text>
        {(report.sourcemaps ?? []).length === 0 ? <Typography.Text type="secondary">none</Typography.Text> : (report.sourcemaps ?? []).map((name) => <Tag key={name}>{name}</Tag>)}
      </div>
      {(report.warnings ?? []).map((warning) => (
        <Typography.Text key={warning} type="warning">
          {warning}
        </Typography.Text>
      ))}
    </Space>
  );
}

function Versions({ mp }: { mp: string }) {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const [uploading, setUploading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [releasing, setReleasing] = useState<string | null>(null);
  const { message } = AntApp.useApp();
  const launches = useQuery(wholeLists.launches(ws, mp));
  const apps = useQuery(wholeLists.apps(ws));
  const appName = (id: string) => apps.data?.items.find((app) => app.id === id)?.name ?? id;
  // a version's real state is where its launches put it: released on one app, in grayscale on another
  const placed = [...onHostApps(launches.data?.items ?? []).values()].flat();
  const stateOf = (version: Version) => placed.filter((launch) => launch.version_id === version.id);
  return (
    <>
      <AtAGlance mp={mp} />
      {can.develop(role) && (
        <div style={{ marginBottom: 16 }}>
          {uploading ? (
            <Card size="small" title="Upload a version" extra={<Button onClick={() => setUploading(false)}>Close</Button>}>
              <UploadVersion
                mp={mp}
                onDone={async () => {
                  message.success("Version uploaded");
                  setUploading(false);
                  await queries.invalidateQueries({ queryKey: keys.versions(ws, mp) });
                }}
              />
            </Card>
          ) : (
            <Button type="primary" onClick={() => setUploading(true)}>
              Upload version
            </Button>
          )}
        </div>
      )}
      <ProblemAlert error={error} style={{ marginBottom: 12 }} />
      <CursorTable<Version>
        listKey={keys.versions(ws, mp)}
        path={paths.versions(ws, mp)}
        empty={can.develop(role) ? "No versions yet: upload the first package." : "No versions have been uploaded yet."}
        expandable={{
          rowExpandable: (version) => Boolean(version.report),
          expandedRowRender: (version) => (version.report ? <PackageReport report={version.report} mp={mp} /> : null),
        }}
        columns={[
          { title: "Version", dataIndex: "version" },
          { title: "Size", dataIndex: "size", render: bytes },
          { title: "Entry page", dataIndex: "entry_page" },
          {
            title: "State",
            dataIndex: "status",
            render: (status, version) => {
              const found = stateOf(version);
              return found.length ? (
                <Space size={4} wrap>
                  {found.map((launch) => (
                    <Tag key={launch.id} color={LAUNCH_COLORS[launch.status]}>
                      {stateLabel(launch)} on {appName(launch.app_id)}
                    </Tag>
                  ))}
                </Space>
              ) : (
                <Tag>{status}</Tag>
              );
            },
          },
          {
            title: "JSAPIs",
            render: (_, version) =>
              version.report ? (
                (version.report.jsapis_not_granted ?? []).length > 0 ? (
                  <Tag color="red">{(version.report.jsapis_not_granted ?? []).length} not granted</Tag>
                ) : (
                  <Tag color="green">{(version.report.jsapis_used ?? []).length} used, all granted</Tag>
                )
              ) : null,
          },
          { title: "Uploaded", dataIndex: "created_at", render: when },
          { title: "SHA-256", dataIndex: "sha256", render: (sha) => <Typography.Text code copyable={{ text: sha }}>{String(sha).slice(0, 12)}</Typography.Text> },
          {
            title: "",
            render: (_, version) => (
              <Space size={4}>
                {can.develop(role) && (
                  <Button size="small" type="primary" ghost onClick={() => setReleasing(version.id)}>
                    Release…
                  </Button>
                )}
                <Button size="small" onClick={() => session.download(paths.versionPackage(ws, mp, version.id), `${version.version}.zip`).catch(setError)}>
                  Download
                </Button>
              </Space>
            ),
          },
        ]}
      />
      {releasing && <NewLaunch mp={mp} open versionId={releasing} onClose={() => setReleasing(null)} />}
    </>
  );
}

function People({ miniprogram }: { miniprogram: MiniProgram }) {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const members = useQuery({ ...wholeLists.members(ws), enabled: can.administer(role) });
  const testers = useQuery({ queryKey: keys.testers(ws, miniprogram.id), queryFn: () => api.get<Testers>(paths.testers(ws, miniprogram.id)) });
  const [developers, setDevelopers] = useState<string[] | null>(null);
  const [testerText, setTesterText] = useState<string | null>(null);
  const assign = useMutation({
    mutationFn: (ids: string[]) => api.put(paths.developers(ws, miniprogram.id), { account_ids: ids }),
    onSuccess: async () => {
      message.success("Developers assigned");
      await queries.invalidateQueries({ queryKey: keys.miniprogram(ws, miniprogram.id) });
    },
  });
  const saveTesters = useMutation({
    mutationFn: (ids: string[]) => api.put(paths.testers(ws, miniprogram.id), { user_ids: ids }),
    onSuccess: async () => {
      message.success("Testers saved");
      await queries.invalidateQueries({ queryKey: keys.testers(ws, miniprogram.id) });
    },
  });
  const byId = new Map((members.data?.items ?? []).map((member) => [member.account_id, member]));
  const currentTesters = testerText ?? (testers.data?.user_ids ?? []).join("\n");
  return (
    <Space orientation="vertical" size="large" style={{ width: "100%" }}>
      <Card size="small" title="Developers">
        {can.administer(role) ? (
          <Space orientation="vertical" style={{ width: "100%" }}>
            <Select
              mode="multiple"
              aria-label="Developers"
              style={{ width: "100%" }}
              placeholder="Members with the developer role"
              value={developers ?? miniprogram.developer_ids}
              onChange={setDevelopers}
              options={(members.data?.items ?? []).filter((member) => member.role === "developer").map((member) => ({ value: member.account_id, label: `${member.name} <${member.email}>` }))}
            />
            <ProblemAlert error={assign.error} />
            <Button type="primary" loading={assign.isPending} onClick={() => assign.mutate(developers ?? miniprogram.developer_ids)}>
              Save developers
            </Button>
          </Space>
        ) : (
          <Typography.Text>{miniprogram.developer_ids.map((id) => byId.get(id)?.name ?? id).join(", ") || "No developers assigned."}</Typography.Text>
        )}
      </Card>
      <Card size="small" title="Testers">
        <Typography.Paragraph type="secondary">Host-app user IDs, one per line (at most 100), who may open pilot versions.</Typography.Paragraph>
        <ProblemAlert error={testers.error} />
        <Input.TextArea rows={4} aria-label="Tester user IDs" value={currentTesters} onChange={(event) => setTesterText(event.target.value)} disabled={!can.develop(role)} />
        <ProblemAlert error={saveTesters.error} style={{ marginTop: 8 }} />
        {can.develop(role) && (
          <Button
            style={{ marginTop: 8 }}
            loading={saveTesters.isPending}
            onClick={() => saveTesters.mutate(currentTesters.split(/\s+/).map((id) => id.trim()).filter(Boolean))}
          >
            Save testers
          </Button>
        )}
      </Card>
    </Space>
  );
}

const FEATURE_COLORS: Record<MiniProgramFeature["status"], string> = { active: "green", pending_approval: "gold", rejected: "red" };

function MiniProgramFeatures({ mp }: { mp: string }) {
  const { ws, role } = useWorkspace();
  const queries = useQueryClient();
  const [chosen, setChosen] = useState<string>();
  const features = useQuery(wholeLists.features(ws));
  const names = new Map((features.data?.items ?? []).map((feature) => [feature.id, feature.name]));
  const request = useMutation({
    mutationFn: (feature_id: string) => api.post<MiniProgramFeature>(paths.miniprogramFeatures(ws, mp), { feature_id }),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.miniprogramFeatures(ws, mp) }),
  });
  return (
    <>
      {can.develop(role) && (
        <Space style={{ marginBottom: 12 }}>
          <Select style={{ width: 280 }} aria-label="Feature" placeholder="A feature of this workspace" value={chosen} onChange={setChosen} options={(features.data?.items ?? []).map((feature) => ({ value: feature.id, label: feature.name }))} />
          <Button type="primary" disabled={!chosen} loading={request.isPending} onClick={() => chosen && request.mutate(chosen)}>
            Request feature
          </Button>
        </Space>
      )}
      <ProblemAlert error={request.error} style={{ marginBottom: 12 }} />
      <CursorTable<MiniProgramFeature>
        listKey={keys.miniprogramFeatures(ws, mp)}
        path={paths.miniprogramFeatures(ws, mp)}
        rowKey="feature_id"
        empty="This mini program uses no features yet: request one above."
        columns={[
          { title: "Feature", dataIndex: "feature_id", render: (id) => names.get(id) ?? id },
          { title: "Status", dataIndex: "status", render: (status: MiniProgramFeature["status"]) => <Tag color={FEATURE_COLORS[status]}>{status.replace("_", " ")}</Tag> },
        ]}
      />
    </>
  );
}

function CrashReporting({ mp }: { mp: string }) {
  const { ws } = useWorkspace();
  const [app, setApp] = useState<string>();
  const apps = useQuery(wholeLists.apps(ws));
  const dsn = useQuery({ queryKey: keys.dsn(ws, mp, app), queryFn: () => api.get<Dsn>(paths.dsn(ws, mp), { app_id: app }), enabled: !!app });
  return (
    <Space orientation="vertical">
      <Typography.Paragraph type="secondary">The standard Sentry SDKs report crashes with this DSN; pick the host app that embeds this mini program.</Typography.Paragraph>
      <Select style={{ width: 280 }} aria-label="Host app" placeholder="Host app" value={app} onChange={setApp} options={(apps.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))} />
      <ProblemAlert error={dsn.error} />
      {dsn.data && (
        <>
          <Typography.Paragraph code copyable data-testid="dsn">
            {dsn.data.dsn}
          </Typography.Paragraph>
          <Typography.Text strong>In the mini program, with @sentry/browser</Typography.Text>
          <Typography.Paragraph copyable={{ text: sentryInit(dsn.data.dsn) }} data-testid="sentry-snippet">
            <pre style={{ margin: 0 }}>{sentryInit(dsn.data.dsn)}</pre>
          </Typography.Paragraph>
          <Typography.Text type="secondary">Name each build's release as its version (or `name@version`), so that its crashes count against that version.</Typography.Text>
        </>
      )}
    </Space>
  );
}

/** The few lines a mini program needs to report its crashes, with its DSN filled in. */
export function sentryInit(dsn: string): string {
  return [
    'import * as Sentry from "@sentry/browser";',
    "",
    "Sentry.init({",
    `  dsn: "${dsn}",`,
    '  release: "1.0.0", // the version uploaded to MPDP',
    "});",
  ].join("\n");
}

export function MiniProgramDetail() {
  const { ws } = useWorkspace();
  const { mp = "", tab = "details" } = useParams();
  const navigate = useNavigate();
  const miniprogram = useQuery({ queryKey: keys.miniprogram(ws, mp), queryFn: () => api.get<MiniProgram>(paths.miniprogram(ws, mp)) });
  if (miniprogram.error) return <ProblemAlert error={miniprogram.error} />;
  if (!miniprogram.data) return <Card loading />;
  return (
    <Card title={<Link to={`/workspaces/${ws}/miniprograms`}>Mini programs</Link>} extra={<Typography.Title level={4} style={{ margin: 0 }}>{miniprogram.data.name}</Typography.Title>}>
      <Tabs
        activeKey={tab}
        onChange={(key) => navigate(`/workspaces/${ws}/miniprograms/${mp}/${key}`)}
        items={[
          { key: "details", label: "Details", children: <Details miniprogram={miniprogram.data} /> },
          { key: "versions", label: "Versions", children: <Versions mp={mp} /> },
          { key: "launches", label: "Launches", children: <Launches mp={mp} /> },
          { key: "features", label: "Features", children: <MiniProgramFeatures mp={mp} /> },
          { key: "people", label: "Developers & testers", children: <People miniprogram={miniprogram.data} /> },
          { key: "crash-reporting", label: "Crash reporting", children: <CrashReporting mp={mp} /> },
        ]}
      />
    </Card>
  );
}
