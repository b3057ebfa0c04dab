import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Form, Input, Result, Typography } from "antd";
import { useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { paths } from "../api/paths";
import type { Accepted } from "../api/types";
import { useAuth } from "../auth";
import { ProblemAlert, showFieldErrors } from "../components/Problem";

function Centered({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div style={{ minHeight: "100vh", display: "flex", alignItems: "center", justifyContent: "center", background: "#f0f2f5" }}>
      <Card style={{ width: 400 }}>
        <Typography.Title level={3} style={{ marginTop: 0 }}>
          {title}
        </Typography.Title>
        <Typography.Paragraph type="secondary">Mini Program Development Platform</Typography.Paragraph>
        {children}
      </Card>
    </div>
  );
}

function useNext(): string {
  const [params] = useSearchParams();
  const next = params.get("next") ?? "/workspaces";
  // only a path of this site, never another origin
  return next.startsWith("/") && !next.startsWith("//") ? next : "/workspaces";
}

export function SignIn() {
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const next = useNext();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Centered title="Sign in">
      <Form
        layout="vertical"
        onFinish={async ({ email, password }) => {
          setBusy(true);
          setError(null);
          try {
            await signIn(email, password);
            navigate(next, { replace: true });
          } catch (failure) {
            setError(failure);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form.Item label="Email" name="email" rules={[{ required: true, type: "email", message: "Enter your email address." }]}>
          <Input autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item label="Password" name="password" rules={[{ required: true, message: "Enter your password." }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <ProblemAlert error={error} style={{ marginBottom: 16 }} />
        <Button type="primary" htmlType="submit" block loading={busy}>
          Sign in
        </Button>
      </Form>
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        New here? <Link to={`/sign-up?next=${encodeURIComponent(next)}`}>Create an account</Link>
      </Typography.Paragraph>
    </Centered>
  );
}

export function SignUp() {
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const next = useNext();
  const [form] = Form.useForm();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Centered title="Create your account">
      <Form
        form={form}
        layout="vertical"
        onFinish={async ({ name, email, password }) => {
          setBusy(true);
          setError(null);
          try {
            await api.post(paths.accounts(), { name, email, password });
            await signIn(email, password);
            navigate(next, { replace: true });
          } catch (failure) {
            showFieldErrors(form, failure);
            setError(failure);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, message: "Enter your name." }]}>
          <Input autoComplete="name" autoFocus />
        </Form.Item>
        <Form.Item label="Email" name="email" rules={[{ required: true, type: "email", message: "Enter a valid email address." }]}>
          <Input autoComplete="email" />
        </Form.Item>
        <Form.Item label="Password" name="password" rules={[{ required: true, min: 10, message: "Use at least 10 characters." }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          label="Repeat the password"
          name="confirm"
          dependencies={["password"]}
          rules={[
            { required: true, message: "Repeat the password." },
            ({ getFieldValue }) => ({
              validator: (_, value) => (!value || getFieldValue("password") === value ? Promise.resolve() : Promise.reject(new Error("The passwords differ."))),
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <ProblemAlert error={error} form={form} style={{ marginBottom: 16 }} />
        <Button type="primary" htmlType="submit" block loading={busy}>
          Create account
        </Button>
      </Form>
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        Have an account? <Link to={`/sign-in?next=${encodeURIComponent(next)}`}>Sign in</Link>
      </Typography.Paragraph>
    </Centered>
  );
}

export function AcceptInvitation() {
  const { token = "" } = useParams();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const accept = useMutation({
    mutationFn: () => api.post<Accepted>(paths.acceptInvitation(token)),
    onSuccess: async (joined) => {
      await queries.invalidateQueries();
      navigate(`/workspaces/${joined.workspace_id}/miniprograms`);
    },
  });
  return (
    <Result
      status="info"
      title="You have been invited to a workspace"
      subTitle="Accept with the account whose email address was invited."
      extra={
        <>
          <Button type="primary" loading={accept.isPending} onClick={() => accept.mutate()}>
            Accept the invitation
          </Button>
          <ProblemAlert error={accept.error} style={{ marginTop: 16, textAlign: "left" }} />
        </>
      }
    />
  );
}
