import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App as AntApp, Button, Card, Descriptions, Form, Input, Modal, Select, Space, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { whileChanging, wholeLists } from "../api/queries";
import type { Launch, LaunchStatus } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { PercentageControl } from "../components/PercentageControl";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { can, useMemberNames, useWorkspace, when } from "../workspace";
import { HealthCard, RolloutCard } from "./Rollout";

export const LAUNCH_COLORS: Record<LaunchStatus, string> = {
  created: "default",
  under_review: "gold",
  pilot: "cyan",
  ready: "blue",
  grayscale: "purple",
  released: "green",
  rejected: "red",
  canceled: "default",
  archived: "default",
  offline: "volcano",
  // the release a rollback replaced: it may be released again by a later rollback
  rollback: "orange",
  // stopped by its guard: everyone gets the released version until a person publishes again or cancels
  halted: "magenta",
};

/** The statuses in which a launch's version has reached users, so its health means something. */
const HAS_HEALTH: LaunchStatus[] = ["pilot", "grayscale", "released", "halted", "rollback", "offline"];

/** Whether the platform may move the launch without its developer: a review, a rollout's next
 * step or its guard. Its page asks again while so. */
export function changesByItself(launch: Pick<Launch, "status" | "rollout">): boolean {
  return launch.status === "under_review" || launch.rollout?.state === "running" || (launch.status === "grayscale" && !!launch.rollout);
}

/** Which actions a launch in each status offers (the launch lifecycle). */
export function launchActions(status: LaunchStatus): ("submit" | "withdraw" | "publish" | "cancel")[] {
  switch (status) {
    case "created":
      return ["submit", "cancel"];
    case "under_review":
      return ["withdraw"];
    case "pilot":
    case "ready":
    case "grayscale":
    case "halted":
      return ["publish", "cancel"];
    default:
      return [];
  }
}

/** What a person confirms before a publish: which version reaches which share of which host app's users. */
export function publishQuestion(version: string, app: string, percentage: number): string {
  return percentage === 100 ? `Release ${version} to every user of ${app}?` : `Publish ${version} to ${percentage}% of the users of ${app}?`;
}

/** The statuses in which a launch puts, or is about to put, its version on its host app, in the
 * order a glance reads them. */
export const ON_HOST_APP: LaunchStatus[] = ["released", "grayscale", "halted", "pilot", "ready", "under_review", "offline"];

/** A launch's place on its host app in a few words: "grayscale 20%", "under review". */
export function stateLabel(launch: Pick<Launch, "status" | "percentage">): string {
  const status = launch.status.replace("_", " ");
  return (launch.status === "grayscale" || launch.status === "halted") && launch.percentage ? `${status} ${launch.percentage}%` : status;
}

/** Per host app, its launches that are on it or on their way, in ON_HOST_APP's order. */
export function onHostApps(launches: Launch[]): Map<string, Launch[]> {
  const byApp = new Map<string, Launch[]>();
  for (const launch of launches.filter((item) => ON_HOST_APP.includes(item.status))) byApp.set(launch.app_id, [...(byApp.get(launch.app_id) ?? []), launch]);
  for (const list of byApp.values()) list.sort((a, b) => ON_HOST_APP.indexOf(a.status) - ON_HOST_APP.indexOf(b.status));
  return byApp;
}

/** What each host app has of this mini program: released, in grayscale and at what share, in pilot or under review. */
export function AtAGlance({ mp }: { mp: string }) {
  const { ws } = useWorkspace();
  const names = useNames(ws, mp);
  const launches = useQuery(wholeLists.launches(ws, mp));
  const byApp = onHostApps(launches.data?.items ?? []);
  if (!launches.data || byApp.size === 0) return null;
  return (
    <Card size="small" title="On host apps" style={{ marginBottom: 16 }} data-testid="at-a-glance">
      <Space orientation="vertical" style={{ width: "100%" }}>
        {[...byApp].map(([app, list]) => (
          <Space key={app} wrap>
            <Typography.Text strong>{names.app(app)}</Typography.Text>
            {list.map((launch) => (
              <Link key={launch.id} to={`/workspaces/${ws}/miniprograms/${mp}/launches/${launch.id}`}>
                <Tag color={LAUNCH_COLORS[launch.status]}>
                  {launch.version} · {stateLabel(launch)}
                </Tag>
              </Link>
            ))}
          </Space>
        ))}
      </Space>
    </Card>
  );
}

function useNames(ws: string, mp: string) {
  const versions = useQuery(wholeLists.versions(ws, mp));
  const apps = useQuery(wholeLists.apps(ws));
  return {
    versions: versions.data?.items ?? [],
    apps: apps.data?.items ?? [],
    version: (id: string) => versions.data?.items.find((item) => item.id === id)?.version ?? id,
    app: (id: string) => apps.data?.items.find((item) => item.id === id)?.name ?? id,
  };
}

export function NewLaunch({ mp, open, onClose, versionId }: { mp: string; open: boolean; onClose: () => void; versionId?: string }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const names = useNames(ws, mp);
  const create = useMutation({
    mutationFn: (body: object) => api.post<Launch>(paths.launches(ws, mp), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.launches(ws, mp) });
      onClose();
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Modal open={open} title="New launch" okText="Create launch" onOk={() => form.submit()} onCancel={onClose} confirmLoading={create.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" initialValues={{ version_id: versionId }} onFinish={(values) => create.mutate(values)}>
        <Form.Item label="Version" name="version_id" rules={[{ required: true, message: "Choose the version to release." }]}>
          <Select options={names.versions.map((version) => ({ value: version.id, label: version.version }))} placeholder={names.versions.length ? "Version" : "Upload a version first"} />
        </Form.Item>
        <Form.Item label="Host app" name="app_id" rules={[{ required: true, message: "Choose the host app." }]}>
          <Select options={names.apps.map((app) => ({ value: app.id, label: app.name }))} placeholder={names.apps.length ? "Host app" : "An admin adds host apps under Apps"} />
        </Form.Item>
      </Form>
      <ProblemAlert error={create.error} form={form} />
    </Modal>
  );
}

function MiniProgramAction({ mp, action, onClose }: { mp: string; action: "offline" | "online" | "rollback" | null; onClose: () => void }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const names = useNames(ws, mp);
  const run = useMutation({
    mutationFn: (body: object) => api.post(paths.miniprogramAction(ws, mp, action!), body),
    onSuccess: async () => {
      message.success(action === "rollback" ? "Rolled back" : `Requested: the ${action} waits for approval.`);
      await queries.invalidateQueries({ queryKey: keys.launches(ws, mp) });
      onClose();
    },
    onError: (error) => showFieldErrors(form, error),
  });
  const titles = { offline: "Take offline", online: "Bring back online", rollback: "Roll back" };
  return (
    <Modal open={action !== null} title={action ? titles[action] : ""} onOk={() => form.submit()} onCancel={onClose} confirmLoading={run.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" onFinish={(values) => run.mutate(values)}>
        <Form.Item label="Host app" name="app_id" rules={[{ required: true, message: "Choose the host app." }]}>
          <Select options={names.apps.map((app) => ({ value: app.id, label: app.name }))} />
        </Form.Item>
        {action === "rollback" ? (
          <Form.Item label="Version released before" name="version_id" rules={[{ required: true, message: "Choose the version." }]}>
            <Select options={names.versions.map((version) => ({ value: version.id, label: version.version }))} />
          </Form.Item>
        ) : (
          <Form.Item label="Reason" name="reason" rules={[{ required: true, whitespace: true, message: "Say why, for the reviewers." }]}>
            <Input.TextArea rows={3} />
          </Form.Item>
        )}
      </Form>
      <ProblemAlert error={run.error} form={form} />
    </Modal>
  );
}

export function Launches({ mp }: { mp: string }) {
  const { ws, role } = useWorkspace();
  const names = useNames(ws, mp);
  const [creating, setCreating] = useState(false);
  const [action, setAction] = useState<"offline" | "online" | "rollback" | null>(null);
  const all = useQuery(wholeLists.launches(ws, mp));
  const has = (...statuses: LaunchStatus[]) => (all.data?.items ?? []).some((launch) => statuses.includes(launch.status));
  return (
    <>
      <AtAGlance mp={mp} />
      {can.develop(role) && (
        <Space style={{ marginBottom: 16 }} wrap>
          <Button type="primary" onClick={() => setCreating(true)}>
            New launch
          </Button>
          <Button onClick={() => setAction("offline")} disabled={!has("released")} title={has("released") ? undefined : "Nothing is released"}>
            Take offline
          </Button>
          <Button onClick={() => setAction("online")} disabled={!has("offline")} title={has("offline") ? undefined : "Nothing is offline"}>
            Bring online
          </Button>
          <Button onClick={() => setAction("rollback")} disabled={!has("archived", "rollback")} title={has("archived", "rollback") ? undefined : "No earlier release to go back to"}>
            Roll back
          </Button>
        </Space>
      )}
      <CursorTable<Launch>
        listKey={keys.launches(ws, mp)}
        path={paths.launches(ws, mp)}
        empty={can.develop(role) ? "No launches yet: create one to release a version to a host app." : "No launches yet."}
        columns={[
          { title: "Version", dataIndex: "version_id", render: (id, row) => <Link to={`/workspaces/${ws}/miniprograms/${mp}/launches/${row.id}`}>{names.version(id)}</Link> },
          { title: "Host app", dataIndex: "app_id", render: names.app },
          { title: "Status", dataIndex: "status", render: (status: LaunchStatus) => <Tag color={LAUNCH_COLORS[status]}>{status.replace("_", " ")}</Tag> },
          { title: "Share", dataIndex: "percentage", render: (value) => (value ? `${value}%` : "—") },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
      <NewLaunch mp={mp} open={creating} onClose={() => setCreating(false)} />
      <MiniProgramAction mp={mp} action={action} onClose={() => setAction(null)} />
    </>
  );
}

export function LaunchDetail() {
  const { ws, role } = useWorkspace();
  const { mp = "", launch: id = "" } = useParams();
  const queries = useQueryClient();
  const names = useNames(ws, mp);
  const person = useMemberNames(ws);
  const { modal } = AntApp.useApp();
  const [percentage, setPercentage] = useState<number | null>(null);
  const launch = useQuery({ queryKey: keys.launch(ws, mp, id), queryFn: () => api.get<Launch>(paths.launch(ws, mp, id)), refetchInterval: whileChanging<Launch>(changesByItself) });
  const act = useMutation({
    mutationFn: ({ action, body }: { action: "submit" | "withdraw" | "publish" | "cancel"; body?: object }) => api.post<Launch>(paths.launchAction(ws, mp, id, action), body),
    onSuccess: () => {
      setPercentage(null);
      void queries.invalidateQueries({ queryKey: keys.launches(ws, mp) });
      // Busy until the launch's new status is on screen, so no action is offered for the old one.
      return queries.invalidateQueries({ queryKey: keys.launch(ws, mp, id) });
    },
  });
  if (launch.error) return <ProblemAlert error={launch.error} />;
  const data = launch.data;
  if (!data) return <Card loading />;
  const actions = can.develop(role) ? launchActions(data.status) : [];
  const floor = data.status === "grayscale" && data.percentage ? data.percentage : 1;
  const publish = () => {
    const share = percentage ?? Math.max(floor, 10);
    modal.confirm({
      title: publishQuestion(names.version(data.version_id), names.app(data.app_id), share),
      content: data.rollout ? "A publish by hand ends the rollout plan; its guard stays." : undefined,
      okText: "Publish",
      onOk: () => act.mutateAsync({ action: "publish", body: { percentage: share } }),
    });
  };
  return (
    <Card title={<Link to={`/workspaces/${ws}/miniprograms/${mp}/launches`}>Launches</Link>} extra={
        <Tag color={LAUNCH_COLORS[data.status]} data-testid="launch-status">
          {data.status.replace("_", " ")}
        </Tag>
      }
    >
      {data.status === "rejected" && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 16 }}
          data-testid="rejection"
          title={`Rejected by ${person(data.history.at(-1)?.by ?? "")}`}
          description={data.history.at(-1)?.reason ?? "The reviewer gave no reason."}
        />
      )}
      <Descriptions
        bordered
        column={{ xs: 1, md: 2 }}
        items={[
          { label: "Version", children: names.version(data.version_id) },
          { label: "Host app", children: names.app(data.app_id) },
          { label: "Status", children: data.status.replace("_", " ") },
          { label: "Share of users", children: data.percentage ? `${data.percentage}%` : "—" },
        ]}
      />
      {actions.length > 0 && (
        <Card size="small" title="Next step" style={{ marginTop: 16 }}>
          {actions.includes("publish") && (
            <div style={{ marginBottom: 12 }}>
              <PercentageControl value={percentage ?? Math.max(floor, 10)} min={floor} onChange={setPercentage} />
            </div>
          )}
          <Space>
            {actions.includes("submit") && (
              <Button type="primary" loading={act.isPending} onClick={() => act.mutate({ action: "submit" })}>
                Submit for review
              </Button>
            )}
            {actions.includes("withdraw") && (
              <Button loading={act.isPending} onClick={() => act.mutate({ action: "withdraw" })}>
                Withdraw
              </Button>
            )}
            {actions.includes("publish") && (
              <Button type="primary" loading={act.isPending} onClick={publish}>
                Publish
              </Button>
            )}
            {actions.includes("cancel") && (
              <Button danger loading={act.isPending} onClick={() => act.mutate({ action: "cancel" })}>
                Cancel launch
              </Button>
            )}
          </Space>
          <ProblemAlert error={act.error} style={{ marginTop: 12 }} />
        </Card>
      )}
      <RolloutCard ws={ws} mp={mp} launch={data} mayPublish={can.develop(role)} />
      {HAS_HEALTH.includes(data.status) && <HealthCard ws={ws} mp={mp} launch={data} />}
      <Typography.Title level={5} style={{ marginTop: 24 }}>
        History
      </Typography.Title>
      <Timeline
        items={data.history.map((step) => ({
          color: LAUNCH_COLORS[step.status] === "default" ? "gray" : LAUNCH_COLORS[step.status],
          content: (
            <>
              <b>{step.status.replace("_", " ")}</b>
              {/* a halt keeps nobody on the version: the share it was halted at is what it had reached */}
              {step.percentage ? (step.status === "halted" ? ` at ${step.percentage}% of users` : ` to ${step.percentage}% of users`) : ""} · {when(step.at)}
              {step.by && <Typography.Text type="secondary"> · by {person(step.by)}</Typography.Text>}
              {step.reason && step.status !== "halted" && <div data-testid="step-reason">{step.reason}</div>}
            </>
          ),
        }))}
      />
    </Card>
  );
}
