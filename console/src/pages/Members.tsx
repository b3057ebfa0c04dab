import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Tag, Typography } from "antd";
import { useState } from "react";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { wholeLists } from "../api/queries";
import type { Invitation, InvitationCreated, Member, Role, Settings } from "../api/types";
import { useAuth } from "../auth";
import { CursorTable } from "../components/CursorTable";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { SecretOnce } from "../components/SecretOnce";
import { can, ROLE_LABELS, useWorkspace, when } from "../workspace";

const ROLE_OPTIONS = (Object.keys(ROLE_LABELS) as Role[]).map((role) => ({ value: role, label: ROLE_LABELS[role] }));

function Invite({ open, onClose, onInvited }: { open: boolean; onClose: () => void; onInvited: (invitation: InvitationCreated) => void }) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const role = Form.useWatch("role", form);
  const miniprograms = useQuery({ ...wholeLists.miniprograms(ws), enabled: open });
  const invite = useMutation({
    mutationFn: (body: object) => api.post<InvitationCreated>(paths.invitations(ws), body),
    onSuccess: async (invitation) => {
      await queries.invalidateQueries({ queryKey: keys.invitations(ws) });
      onInvited(invitation);
      onClose();
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    // each invitation starts empty: what the last one said is not this one's
    <Modal
      open={open}
      title="Invite a member"
      okText="Invite"
      onOk={() => form.submit()}
      onCancel={onClose}
      afterClose={() => {
        form.resetFields();
        invite.reset();
      }}
      confirmLoading={invite.isPending}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" initialValues={{ role: "developer", miniprogram_ids: [] }} onFinish={(values) => invite.mutate(values)}>
        <Form.Item label="Email" name="email" rules={[{ required: true, type: "email", message: "Enter the email address to invite." }]}>
          <Input autoFocus />
        </Form.Item>
        <Form.Item label="Role" name="role">
          <Select options={ROLE_OPTIONS} />
        </Form.Item>
        {role === "developer" && (
          <Form.Item label="Mini programs" name="miniprogram_ids" preserve={false} extra="Developers see and work on the mini programs assigned to them; admins and reviewers see every one.">
            <Select
              mode="multiple"
              placeholder="Search by name"
              showSearch={{ optionFilterProp: "label" }}
              loading={miniprograms.isLoading}
              options={(miniprograms.data?.items ?? []).map((item) => ({ value: item.id, label: item.name }))}
            />
          </Form.Item>
        )}
      </Form>
      <ProblemAlert error={invite.error} form={form} />
    </Modal>
  );
}

export function Members() {
  const { ws, role } = useWorkspace();
  const { me } = useAuth();
  const queries = useQueryClient();
  const [inviting, setInviting] = useState(false);
  const [link, setLink] = useState<string | null>(null);
  const [failed, setFailed] = useState<{ account: string; error: unknown } | null>(null);
  const admin = can.administer(role);
  // invitations are mailed through the workspace's service email alone
  const settings = useQuery({ queryKey: keys.settings(ws), queryFn: () => api.get<Settings>(paths.settings(ws)), enabled: admin });
  const emailed = !!settings.data?.service_email;
  const refresh = () => queries.invalidateQueries({ queryKey: keys.members(ws) });
  const change = useMutation({
    mutationFn: ({ account, action, role }: { account: string; action: "role" | "block" | "unblock" | "remove"; role?: Role }) => {
      if (action === "role") return api.patch(paths.member(ws, account), { role });
      if (action === "remove") return api.delete(paths.member(ws, account));
      return api.post(paths.memberAction(ws, account, action));
    },
    onSuccess: () => {
      setFailed(null);
      return refresh();
    },
    onError: (error, { account }) => setFailed({ account, error }),
  });
  const withdraw = useMutation({
    mutationFn: (id: string) => api.delete(paths.invitation(ws, id)),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.invitations(ws) }),
  });
  return (
    <Space orientation="vertical" size="large" style={{ width: "100%" }}>
      <Card title="Members" extra={admin && <Button type="primary" onClick={() => setInviting(true)}>Invite member</Button>}>
        <CursorTable<Member>
          listKey={keys.members(ws)}
          path={paths.members(ws)}
          rowKey="account_id"
          empty="No members yet."
          columns={[
            { title: "Name", dataIndex: "name" },
            { title: "Email", dataIndex: "email" },
            {
              title: "Role",
              dataIndex: "role",
              render: (current: Role, member) =>
                admin && member.account_id !== me?.id ? (
                  <Select size="small" aria-label={`Role of ${member.email}`} style={{ width: 190 }} value={current} options={ROLE_OPTIONS} onChange={(next) => change.mutate({ account: member.account_id, action: "role", role: next })} />
                ) : (
                  ROLE_LABELS[current]
                ),
            },
            { title: "Status", dataIndex: "status", render: (status) => <Tag color={status === "active" ? "green" : "red"}>{status}</Tag> },
            { title: "Joined", dataIndex: "joined_at", render: when },
            ...(admin
              ? [
                  {
                    title: "",
                    render: (_: unknown, member: Member) =>
                      member.account_id === me?.id ? (
                        <Typography.Text type="secondary">you</Typography.Text>
                      ) : (
                        <Space orientation="vertical" size={4}>
                          <Space>
                            <Button size="small" onClick={() => change.mutate({ account: member.account_id, action: member.status === "blocked" ? "unblock" : "block" })}>
                              {member.status === "blocked" ? "Unblock" : "Block"}
                            </Button>
                            <Popconfirm title={`Remove ${member.email} from this workspace?`} onConfirm={() => change.mutate({ account: member.account_id, action: "remove" })}>
                              <Button size="small" danger>
                                Remove
                              </Button>
                            </Popconfirm>
                          </Space>
                          {failed?.account === member.account_id && <ProblemAlert error={failed.error} />}
                        </Space>
                      ),
                  },
                ]
              : []),
          ]}
        />
      </Card>
      {admin && (
        <Card title="Invitations">
          <ProblemAlert error={withdraw.error} style={{ marginBottom: 12 }} />
          <CursorTable<Invitation>
            listKey={keys.invitations(ws)}
            path={paths.invitations(ws)}
            empty="No invitations: invite a member above."
            columns={[
              { title: "Email", dataIndex: "email" },
              { title: "Role", dataIndex: "role", render: (value: Role) => ROLE_LABELS[value] },
              { title: "Status", dataIndex: "status", render: (status) => <Tag>{status}</Tag> },
              { title: "Expires", dataIndex: "expires_at", render: when },
              {
                title: "",
                render: (_, invitation) =>
                  invitation.status === "pending" && (
                    <Popconfirm title="Withdraw this invitation?" onConfirm={() => withdraw.mutate(invitation.id)}>
                      <Button size="small">Withdraw</Button>
                    </Popconfirm>
                  ),
              },
            ]}
          />
        </Card>
      )}
      <Invite open={inviting} onClose={() => setInviting(false)} onInvited={(invitation) => setLink(`${window.location.origin}/invitations/${invitation.token}`)} />
      <SecretOnce
        title="Invitation sent"
        secret={link}
        extra={
          <Typography.Paragraph>
            {emailed
              ? "The invitation is being emailed from the workspace's service email. You can also pass on this link; only the invited email address can accept it."
              : "This workspace has no service email, so nothing was emailed: pass on this link. Only the invited email address can accept it."}
          </Typography.Paragraph>
        }
        onClose={() => setLink(null)}
      />
    </Space>
  );
}
