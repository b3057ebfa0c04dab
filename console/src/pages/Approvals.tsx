import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Descriptions, Form, Input, Modal, Select, Space, Tabs, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, session } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { whileChanging, wholeLists } from "../api/queries";
import type { Approval, ApprovalStatus, ApprovalWithTrail, Version, VersionChanges } from "../api/types";
import { useAuth } from "../auth";
import { CursorTable } from "../components/CursorTable";
import { ItemTitle } from "../components/Details";
import { ProblemAlert } from "../components/Problem";
import { bytes, can, useMemberNames, useWorkspace, when } from "../workspace";
import { PackageReport } from "./MiniPrograms";

export const APPROVAL_COLORS: Record<ApprovalStatus, string> = { pending: "gold", approved: "green", rejected: "red", withdrawn: "default" };
const TYPES: Approval["type"][] = ["launch", "online", "offline", "developer_workspace", "feature", "miniprogram_change"];
const label = (text: string) => text.replace(/_/g, " ");

function ApprovalTable({ query, empty }: { query: Record<string, string | undefined>; empty: string }) {
  const { ws } = useWorkspace();
  return (
    <CursorTable<Approval>
      listKey={keys.approvals(ws)}
      path={paths.approvals(ws)}
      query={query}
      empty={empty}
      columns={[
        { title: "Title", dataIndex: "title", render: (title, row) => <Link to={`/workspaces/${ws}/approvals/${row.id}`}>{title}</Link> },
        { title: "Type", dataIndex: "type", render: (type) => <Tag>{label(type)}</Tag> },
        { title: "Status", dataIndex: "status", render: (status: ApprovalStatus) => <Tag color={APPROVAL_COLORS[status]}>{status}</Tag> },
        { title: "Requested", dataIndex: "created_at", render: when },
        { title: "Decided", dataIndex: "decided_at", render: when },
      ]}
    />
  );
}

const STATUSES: ApprovalStatus[] = ["pending", "approved", "rejected", "withdrawn"];

export function Approvals() {
  const { role } = useWorkspace();
  // the tab and the filters live in the URL: a reload or a shared link shows the same list
  const [params, setParams] = useSearchParams();
  const reviewer = can.decide(role);
  const tab = params.get("tab") ?? (reviewer ? "requests" : "mine");
  const type = params.get("type") ?? undefined;
  // requests to decide are the pending ones unless another status is asked for; "any" is every one
  const status = params.get("status") ?? (tab === "requests" ? "pending" : "any");
  const choose = (name: string, value: string | undefined) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (value === undefined) next.delete(name);
      else next.set(name, value);
      return next;
    });
  const filter = (
    <Space wrap>
      <Select
        aria-label="Status"
        style={{ width: 150 }}
        value={status}
        onChange={(value) => choose("status", value)}
        options={[{ value: "any", label: "Any status" }, ...STATUSES.map((value) => ({ value, label: value }))]}
      />
      <Select
        aria-label="Type"
        allowClear
        placeholder="Every type"
        style={{ width: 200 }}
        value={type}
        onChange={(value) => choose("type", value)}
        options={TYPES.map((value) => ({ value, label: label(value) }))}
      />
    </Space>
  );
  const byStatus = status === "any" ? undefined : status;
  return (
    <Card title="Approvals" extra={filter}>
      <Tabs
        activeKey={tab}
        onChange={(key) => setParams(type ? { tab: key, type } : { tab: key })}
        items={[
          ...(reviewer
            ? [
                {
                  key: "requests",
                  label: "Approval Requests",
                  children: <ApprovalTable query={{ status: byStatus, type }} empty={byStatus === "pending" ? "Nothing waits for your decision." : "No approvals with this status."} />,
                },
              ]
            : []),
          {
            key: "mine",
            label: "My Applications",
            children: (
              <ApprovalTable
                query={{ mine: "true", status: byStatus, type }}
                empty={byStatus ? "None of your requests has this status." : "You have requested nothing yet: launches, features and developer workspaces you submit appear here."}
              />
            ),
          },
        ]}
      />
    </Card>
  );
}

/** What changed from the version live on the host app to the one under review: its pages and its size. */
export function changeFrom(live: Pick<Version, "pages" | "size" | "report"> | undefined, reviewed: Pick<Version, "pages" | "size" | "report">) {
  if (!live) return null;
  const jsapis = (version: Pick<Version, "report">) => version.report?.jsapis_used ?? [];
  return {
    added: reviewed.pages.filter((page) => !live.pages.includes(page)),
    removed: live.pages.filter((page) => !reviewed.pages.includes(page)),
    sizeChange: reviewed.size - live.size,
    // known only where both packages were reported on at upload
    jsapisAdded: live.report && reviewed.report ? jsapis(reviewed).filter((name) => !jsapis(live).includes(name)) : null,
  };
}

/** Files by name, the first ten of them and how many more. */
function fileList(names: string[]) {
  if (!names.length) return "none";
  const shown = names.slice(0, 10).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}

/** The request's subject as a reviewer judges it: links to the mini program and the launch, the
 * version's package and notes, and what changes from the version live on that host app. */
function Subject({ approval }: { approval: ApprovalWithTrail }) {
  const { ws } = useWorkspace();
  const details = approval.details as { miniprogram_id?: string; launch_id?: string; version_id?: string; app_id?: string; feature_id?: string; reason?: string };
  const mp = details.miniprogram_id;
  const miniprograms = useQuery({ ...wholeLists.miniprograms(ws), enabled: !!mp });
  const versions = useQuery({ ...wholeLists.versions(ws, mp ?? ""), enabled: !!mp });
  const launches = useQuery({ ...wholeLists.launches(ws, mp ?? ""), enabled: !!mp && !!details.app_id });
  const apps = useQuery({ ...wholeLists.apps(ws), enabled: !!details.app_id });
  const [error, setError] = useState<unknown>(null);
  if (!mp) return null;
  const name = miniprograms.data?.items.find((item) => item.id === mp)?.name ?? "the mini program";
  const appName = apps.data?.items.find((app) => app.id === details.app_id)?.name ?? "its host app";
  const reviewed = versions.data?.items.find((version) => version.id === details.version_id);
  const released = launches.data?.items.find((launch) => launch.app_id === details.app_id && launch.status === "released" && launch.id !== details.launch_id);
  const live = versions.data?.items.find((version) => version.id === released?.version_id);
  const change = reviewed ? changeFrom(live, reviewed) : null;
  const files = useQuery({
    queryKey: ["version-changes", ws, mp, reviewed?.id, live?.id],
    queryFn: () => api.get<VersionChanges>(paths.versionChanges(ws, mp ?? "", reviewed?.id ?? ""), { from: live?.id }),
    enabled: !!mp && !!reviewed && !!live,
  });
  return (
    <Card size="small" title="What is asked" style={{ marginTop: 16 }} data-testid="approval-subject">
      <Space wrap style={{ marginBottom: reviewed || details.reason ? 12 : 0 }}>
        <Link to={`/workspaces/${ws}/miniprograms/${mp}`}>{name}</Link>
        {details.launch_id && <Link to={`/workspaces/${ws}/miniprograms/${mp}/launches/${details.launch_id}`}>Open the launch</Link>}
        {details.feature_id && <Link to={`/workspaces/${ws}/features/${details.feature_id}`}>Open the feature</Link>}
      </Space>
      {details.reason && <Typography.Paragraph>Reason given: {details.reason}</Typography.Paragraph>}
      {reviewed && (
        <Descriptions
          size="small"
          bordered
          column={{ xs: 1, md: 2 }}
          items={[
            {
              label: "Version",
              children: (
                <Space>
                  {reviewed.version}
                  <Button size="small" onClick={() => session.download(paths.versionPackage(ws, mp, reviewed.id), `${reviewed.version}.zip`).catch(setError)}>
                    Download package
                  </Button>
                </Space>
              ),
            },
            { label: "Size", children: bytes(reviewed.size) },
            { label: "Notes", children: reviewed.notes || "—", span: 2 },
            { label: `Live on ${appName}`, children: live ? live.version : "nothing released yet", span: 2 },
            ...(change
              ? [
                  { label: "Pages added", children: change.added.length ? change.added.join(", ") : "none" },
                  { label: "Pages removed", children: change.removed.length ? change.removed.join(", ") : "none" },
                  { label: "Size change", children: `${change.sizeChange >= 0 ? "+" : "−"}${bytes(Math.abs(change.sizeChange))}`, span: change.jsapisAdded ? 1 : 2 },
                  ...(change.jsapisAdded ? [{ label: "JSAPIs newly used", children: change.jsapisAdded.length ? change.jsapisAdded.map((name) => `my.${name}`).join(", ") : "none" }] : []),
                  ...(files.data
                    ? [
                        { label: "Files added", children: fileList(files.data.files_added), span: 2 },
                        { label: "Files removed", children: fileList(files.data.files_removed), span: 2 },
                        { label: "Files changed", children: fileList(files.data.files_changed), span: 2 },
                      ]
                    : []),
                ]
              : [{ label: "Pages", children: reviewed.pages.join(", "), span: 2 }]),
          ]}
        />
      )}
      {reviewed?.report && (
        <div style={{ marginTop: 12 }} data-testid="approval-report">
          <Typography.Text strong>What the package holds</Typography.Text>
          <PackageReport report={reviewed.report} />
        </div>
      )}
      <ProblemAlert error={error} style={{ marginTop: 8 }} />
    </Card>
  );
}

export function ApprovalDetail() {
  const { ws, role } = useWorkspace();
  const { id = "" } = useParams();
  const { me } = useAuth();
  const person = useMemberNames(ws);
  const queries = useQueryClient();
  const [deciding, setDeciding] = useState<"approve" | "reject" | null>(null);
  const [comment, setComment] = useState("");
  // a pending approval may be decided or withdrawn by someone else at any moment
  const approval = useQuery({
    queryKey: keys.approval(ws, id),
    queryFn: () => api.get<ApprovalWithTrail>(paths.approval(ws, id)),
    refetchInterval: whileChanging((data) => data.status === "pending"),
  });
  const act = useMutation({
    mutationFn: (action: "approve" | "reject" | "withdraw") => api.post<ApprovalWithTrail>(paths.approvalAction(ws, id, action), action === "withdraw" ? {} : { comment: comment || undefined }),
    onSuccess: async () => {
      setDeciding(null);
      setComment("");
      await queries.invalidateQueries({ queryKey: keys.approval(ws, id) });
      await queries.invalidateQueries({ queryKey: keys.approvals(ws) });
    },
  });
  if (approval.error) return <ProblemAlert error={approval.error} />;
  const data = approval.data;
  if (!data) return <Card loading />;
  const own = data.applicant_id === me?.id;
  const pending = data.status === "pending";
  const withdrawn = data.status === "withdrawn";
  return (
    <Card title={<Link to={`/workspaces/${ws}/approvals`}>Approvals</Link>} extra={
        <Tag color={APPROVAL_COLORS[data.status]} data-testid="approval-status">
          {data.status}
        </Tag>
      }
    >
      <ItemTitle>{data.title}</ItemTitle>
      <Descriptions
        bordered
        column={{ xs: 1, md: 2 }}
        items={[
          { label: "Type", children: label(data.type) },
          { label: "Status", children: data.status },
          { label: "Applicant", children: own ? "you" : person(data.applicant_id) },
          { label: "Requested", children: when(data.created_at) },
          { label: withdrawn ? "Withdrawn" : "Decided", children: when(data.decided_at) },
          { label: withdrawn ? "Withdrawn by" : "Decided by", children: person(data.decided_by) },
          { label: "Comment", children: data.comment ?? "—" },
        ]}
      />
      <Subject approval={data} />
      {pending && (
        <Space style={{ marginTop: 16 }}>
          {can.decide(role) && !own && (
            <>
              <Button type="primary" onClick={() => setDeciding("approve")}>
                Approve
              </Button>
              <Button danger onClick={() => setDeciding("reject")}>
                Reject
              </Button>
            </>
          )}
          {can.decide(role) && own && <Typography.Text type="secondary">You requested this, so another reviewer decides it.</Typography.Text>}
          {own && (
            <Button loading={act.isPending} onClick={() => act.mutate("withdraw")}>
              Withdraw
            </Button>
          )}
        </Space>
      )}
      {!deciding && <ProblemAlert error={act.error} style={{ marginTop: 12 }} />}
      <Typography.Title level={5} style={{ marginTop: 24 }}>
        Trail
      </Typography.Title>
      <Timeline
        items={data.trail.map((step) => ({
          color: step.action === "opened" ? "blue" : APPROVAL_COLORS[step.action] === "default" ? "gray" : APPROVAL_COLORS[step.action],
          content: (
            <>
              <b>{step.action}</b> · {when(step.at)}
              <Typography.Text type="secondary"> · by {person(step.by)}</Typography.Text>
              {step.comment && <div>{step.comment}</div>}
            </>
          ),
        }))}
      />
      <Modal
        open={deciding !== null}
        title={deciding === "approve" ? "Approve" : "Reject"}
        okText={deciding === "approve" ? "Approve" : "Reject"}
        okButtonProps={{ danger: deciding === "reject", disabled: deciding === "reject" && !comment.trim() }}
        confirmLoading={act.isPending}
        onOk={() => deciding && act.mutate(deciding)}
        onCancel={() => setDeciding(null)}
      >
        <Form layout="vertical">
          <Form.Item label={deciding === "reject" ? "Why (required)" : "Comment (optional)"} required={deciding === "reject"}>
            <Input.TextArea rows={3} value={comment} onChange={(event) => setComment(event.target.value)} aria-label="Comment" />
          </Form.Item>
        </Form>
        <ProblemAlert error={act.error} />
      </Modal>
    </Card>
  );
}
