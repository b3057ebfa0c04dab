import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Form, Input, Popconfirm, Space, Table, Tag, Typography } from "antd";
import { useNavigate } from "react-router-dom";
import { api } from "../api/client";
import { paths } from "../api/paths";
import type { Session } from "../api/types";
import { useAuth } from "../auth";
import { ProblemAlert, showFieldErrors } from "../components/Problem";

/** The signed-in person's own security: their password and where they are signed in. */
export function Security() {
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const { message } = AntApp.useApp();
  const queries = useQueryClient();
  const [form] = Form.useForm();
  const sessions = useQuery({ queryKey: ["me", "sessions"], queryFn: () => api.get<{ items: Session[] }>(paths.sessions()) });
  const change = useMutation({
    mutationFn: (body: { current_password: string; new_password: string }) => api.post(paths.password(), body),
    onSuccess: async () => {
      // every sign-in ends with a new password, this one too
      await signOut();
      navigate("/sign-in");
    },
    onError: (failure) => showFieldErrors(form, failure),
  });
  const end = useMutation({
    mutationFn: async (ids: string[]) => {
      for (const id of ids) await api.delete(paths.session(id));
    },
    onSuccess: () => {
      void message.success("Signed out there");
      void queries.invalidateQueries({ queryKey: ["me", "sessions"] });
    },
  });
  const others = (sessions.data?.items ?? []).filter((item) => !item.current);
  return (
    <Space direction="vertical" size="large" style={{ width: "100%" }}>
      <Card title="Password">
        <Form form={form} layout="vertical" style={{ maxWidth: 400 }} onFinish={({ current_password, new_password }) => change.mutate({ current_password, new_password })}>
          <Form.Item label="Current password" name="current_password" rules={[{ required: true, message: "Enter your current password." }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <Form.Item label="New password" name="new_password" rules={[{ required: true, min: 10, message: "Use at least 10 characters." }]}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
          <ProblemAlert error={change.error} form={form} style={{ marginBottom: 16 }} />
          <Typography.Paragraph type="secondary">Changing it signs you out everywhere, here too.</Typography.Paragraph>
          <Button type="primary" htmlType="submit" loading={change.isPending}>
            Change password
          </Button>
        </Form>
      </Card>
      <Card
        title="Where you are signed in"
        extra={
          <Popconfirm title="Sign out on every other device?" onConfirm={() => end.mutate(others.map((item) => item.id))} disabled={others.length === 0}>
            <Button danger disabled={others.length === 0} loading={end.isPending}>
              Sign out everywhere else
            </Button>
          </Popconfirm>
        }
      >
        <ProblemAlert error={sessions.error ?? end.error} />
        <Table<Session>
          rowKey="id"
          loading={sessions.isLoading}
          dataSource={sessions.data?.items ?? []}
          pagination={false}
          columns={[
            { title: "Device", dataIndex: "user_agent", render: (agent: string | null, row) => <>{agent ?? "unknown"} {row.current && <Tag color="green">this one</Tag>}</> },
            { title: "Address", dataIndex: "ip", render: (ip: string | null) => ip ?? "—" },
            { title: "Signed in", dataIndex: "created_at", render: (at: string) => new Date(at).toLocaleString() },
            { title: "Last active", dataIndex: "last_used_at", render: (at: string) => new Date(at).toLocaleString() },
            {
              title: "",
              key: "end",
              render: (_, row) =>
                row.current ? null : (
                  <Button size="small" onClick={() => end.mutate([row.id])}>
                    Sign out
                  </Button>
                ),
            },
          ]}
        />
      </Card>
    </Space>
  );
}
