import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Descriptions, Form, Input, Modal, Select, Space, Tabs, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Approval, ApprovalStatus, ApprovalWithTrail } from "../api/types";
import { useAuth } from "../auth";
import { CursorTable } from "../components/CursorTable";
import { ItemTitle } from "../components/Details";
import { ProblemAlert } from "../components/Problem";
import { can, useMemberNames, useWorkspace, when } from "../workspace";

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

export function Approvals() {
  const { role } = useWorkspace();
  const [params, setParams] = useSearchParams();
  const [type, setType] = useState<string>();
  const reviewer = can.decide(role);
  const tab = params.get("tab") ?? (reviewer ? "requests" : "mine");
  const filter = (
    <Select allowClear placeholder="Every type" style={{ width: 200 }} value={type} onChange={setType} options={TYPES.map((value) => ({ value, label: label(value) }))} />
  );
  return (
    <Card title="Approvals" extra={filter}>
      <Tabs
        activeKey={tab}
        onChange={(key) => setParams({ tab: key })}
        items={[
          ...(reviewer
            ? [{ key: "requests", label: "Approval Requests", children: <ApprovalTable query={{ status: "pending", type }} empty="Nothing waits for your decision." /> }]
            : []),
          { key: "mine", label: "My Applications", children: <ApprovalTable query={{ mine: "true", type }} empty="You have requested nothing yet: launches, features and developer workspaces you submit appear here." /> },
        ]}
      />
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
  const approval = useQuery({ queryKey: keys.approval(ws, id), queryFn: () => api.get<ApprovalWithTrail>(paths.approval(ws, id)) });
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
        column={2}
        items={[
          { label: "Type", children: label(data.type) },
          { label: "Status", children: data.status },
          { label: "Subject", children: `${label(data.subject.kind)} ${data.subject.id}` },
          { label: "Applicant", children: own ? "you" : person(data.applicant_id) },
          { label: "Requested", children: when(data.created_at) },
          { label: withdrawn ? "Withdrawn" : "Decided", children: when(data.decided_at) },
          { label: withdrawn ? "Withdrawn by" : "Decided by", children: person(data.decided_by) },
          { label: "Comment", children: data.comment ?? "—" },
        ]}
      />
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
