import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Form, Input, Popconfirm, QRCode, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../api/client";
import { paths } from "../api/paths";
import type { RecoveryCodes, Session, TotpSetup } from "../api/types";
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
    <Space orientation="vertical" size="large" style={{ width: "100%" }}>
      <TwoFactor />
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
      <DeleteAccount />
    </Space>
  );
}

/** The danger zone: erasing the account for good, with its password. */
function DeleteAccount() {
  const { signOut } = useAuth();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const erase = useMutation({
    mutationFn: (password: string) => api.delete(paths.me(), { password }),
    onSuccess: async () => {
      await signOut();
      navigate("/sign-in");
    },
    onError: (failure) => showFieldErrors(form, failure),
  });
  return (
    <Card title="Delete account" style={{ borderColor: "#ffa39e" }} data-testid="danger-zone">
      <Typography.Paragraph>
        Your email and name are erased and you leave every workspace; every sign-in ends. This cannot be undone. The email address can sign up again later, as a new account. While you are the last admin of a workspace, make another member admin there first.
      </Typography.Paragraph>
      <Form form={form} layout="vertical" style={{ maxWidth: 400 }} onFinish={({ password }) => erase.mutate(password)}>
        <Form.Item label="Your password" name="password" rules={[{ required: true, message: "Enter your password to delete the account." }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <ProblemAlert error={erase.error} form={form} style={{ marginBottom: 16 }} />
        <Popconfirm title="Delete your account for good?" okText="Delete" okButtonProps={{ danger: true }} onConfirm={() => form.submit()}>
          <Button danger type="primary" loading={erase.isPending}>
            Delete account
          </Button>
        </Popconfirm>
      </Form>
    </Card>
  );
}

/** Two-factor sign-in with an authenticator app (TOTP): set up with a QR code, recovery codes once, turning it off. */
function TwoFactor() {
  const { me, reloadMe } = useAuth();
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [offForm] = Form.useForm();
  const begin = useMutation({ mutationFn: () => api.post<TotpSetup>(paths.totp()), onSuccess: setSetup });
  const confirm = useMutation({
    mutationFn: (code: string) => api.post<RecoveryCodes>(paths.totpConfirm(), { code }),
    onSuccess: (answer) => {
      setSetup(null);
      setCodes(answer.recovery_codes);
      reloadMe();
    },
  });
  const off = useMutation({
    mutationFn: (body: { password: string; code: string }) => api.delete(paths.mfa(), body),
    onSuccess: () => {
      offForm.resetFields();
      reloadMe();
    },
  });
  const text = (codes ?? []).join("\n");
  return (
    <Card title="Two-factor sign-in">
      {codes ? (
        <>
          <Typography.Paragraph>
            Two-factor sign-in is on. Keep these recovery codes somewhere safe: each signs you in once without the app, and they are shown only now.
          </Typography.Paragraph>
          <pre data-testid="recovery-codes">{text}</pre>
          <Space>
            <Button onClick={() => void navigator.clipboard?.writeText(text)}>Copy</Button>
            <Button
              onClick={() => {
                const link = document.createElement("a");
                link.href = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain" }));
                link.download = "mpdp-recovery-codes.txt";
                link.click();
              }}
            >
              Download
            </Button>
            <Button type="primary" onClick={() => setCodes(null)}>
              Done
            </Button>
          </Space>
        </>
      ) : me?.mfa_enabled ? (
        <Form form={offForm} layout="vertical" style={{ maxWidth: 400 }} onFinish={({ password, code }) => off.mutate({ password, code })}>
          <Typography.Paragraph>
            <Tag color="green">On</Tag> Signing in asks for a code from your authenticator app.
          </Typography.Paragraph>
          <Form.Item label="Password" name="password" rules={[{ required: true, message: "Enter your password." }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <Form.Item label="Code or recovery code" name="code" rules={[{ required: true, message: "Enter a code." }]}>
            <Input autoComplete="one-time-code" />
          </Form.Item>
          <ProblemAlert error={off.error} style={{ marginBottom: 16 }} />
          <Button danger htmlType="submit" loading={off.isPending}>
            Turn off two-factor sign-in
          </Button>
        </Form>
      ) : setup ? (
        <Form layout="vertical" style={{ maxWidth: 400 }} onFinish={({ code }) => confirm.mutate(String(code).trim())}>
          <Typography.Paragraph>Scan this code with your authenticator app, or type the key in, then enter the code it shows.</Typography.Paragraph>
          <QRCode value={setup.otpauth_uri} data-testid="totp-qr" />
          <Typography.Paragraph copyable={{ text: setup.secret }} style={{ marginTop: 8 }}>
            Key: <Typography.Text code data-testid="totp-secret">{setup.secret}</Typography.Text>
          </Typography.Paragraph>
          <Form.Item label="Code from the app" name="code" rules={[{ required: true, message: "Enter the 6-digit code." }]}>
            <Input autoComplete="one-time-code" inputMode="numeric" />
          </Form.Item>
          <ProblemAlert error={confirm.error} style={{ marginBottom: 16 }} />
          <Button type="primary" htmlType="submit" loading={confirm.isPending}>
            Turn on
          </Button>
        </Form>
      ) : (
        <>
          <Typography.Paragraph>Ask for a code from an authenticator app at each sign-in, besides your password.</Typography.Paragraph>
          <ProblemAlert error={begin.error} style={{ marginBottom: 16 }} />
          <Button type="primary" loading={begin.isPending} onClick={() => begin.mutate()}>
            Set up two-factor sign-in
          </Button>
        </>
      )}
    </Card>
  );
}
