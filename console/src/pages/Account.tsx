import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Form, Input, Result, Space, Typography } from "antd";
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api, session, type SignedOutReason } from "../api/client";
import { paths } from "../api/paths";
import type { Accepted, InvitationPreview } from "../api/types";
import { useAuth } from "../auth";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { ROLE_LABELS } from "../workspace";

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

function SecondStep({ mfaToken, next }: { mfaToken: string; next: string }) {
  const { signInWithCode } = useAuth();
  const navigate = useNavigate();
  const [recovery, setRecovery] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Centered title="Two-factor sign-in">
      <Form
        layout="vertical"
        onFinish={async ({ code }) => {
          setBusy(true);
          setError(null);
          try {
            await signInWithCode(mfaToken, recovery ? { recovery_code: code.trim() } : { code: code.trim() });
            navigate(next, { replace: true });
          } catch (failure) {
            setError(failure);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form.Item
          label={recovery ? "Recovery code" : "Code from your authenticator app"}
          name="code"
          rules={[{ required: true, message: recovery ? "Enter one of your recovery codes." : "Enter the 6-digit code." }]}
        >
          <Input autoComplete="one-time-code" inputMode={recovery ? "text" : "numeric"} autoFocus />
        </Form.Item>
        <ProblemAlert error={error} style={{ marginBottom: 16 }} />
        <Button type="primary" htmlType="submit" block loading={busy}>
          Verify
        </Button>
      </Form>
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        <Button type="link" style={{ padding: 0 }} onClick={() => setRecovery(!recovery)}>
          {recovery ? "Use a code from the app" : "Use a recovery code instead"}
        </Button>
      </Typography.Paragraph>
    </Centered>
  );
}

/** What the sign-in page says of the sign-in this tab had, where it did not end by the person's own hand here. */
const SIGNED_OUT_BECAUSE: Partial<Record<SignedOutReason, string>> = {
  ended: "Your sign-in ended: it expired, or it was ended on another device or by a password change. Sign in again to go on.",
  "signed-out-elsewhere": "You signed out in another tab of this browser.",
};

export function SignIn() {
  const { signIn, signedIn } = useAuth();
  const navigate = useNavigate();
  const next = useNext();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [signedOutBecause] = useState(() => SIGNED_OUT_BECAUSE[session.lastSignedOut() ?? "signed-out"]);
  // signed in from another tab meanwhile: on to where this one was going
  useEffect(() => {
    if (signedIn && !mfaToken && !busy) navigate(next, { replace: true });
  }, [signedIn, mfaToken, busy, navigate, next]);
  if (mfaToken) return <SecondStep mfaToken={mfaToken} next={next} />;
  return (
    <Centered title="Sign in">
      {signedOutBecause && <Alert type="info" showIcon message={signedOutBecause} style={{ marginBottom: 16 }} data-testid="signed-out-because" />}
      <Form
        layout="vertical"
        onFinish={async ({ email, password }) => {
          setBusy(true);
          setError(null);
          try {
            const second = await signIn(email, password);
            if (second) setMfaToken(second.mfaToken);
            else navigate(next, { replace: true });
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
        New here? <Link to={`/sign-up?next=${encodeURIComponent(next)}`}>Create an account</Link> · <Link to="/forgot-password">Forgot your password?</Link>
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
  const [mailedTo, setMailedTo] = useState<string | null>(null);
  if (mailedTo)
    return (
      <Centered title="Check your mail">
        <Result
          status="success"
          title="Your account is made"
          subTitle={`We sent a link to ${mailedTo}: follow it to confirm your email. Until then you can look around, but not create or join a workspace.`}
          extra={
            <Button type="primary" onClick={() => navigate(next, { replace: true })}>
              Continue
            </Button>
          }
        />
      </Centered>
    );
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
            setMailedTo(email);
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
  const { signedIn, me, signOut } = useAuth();
  const preview = useQuery({ queryKey: ["invitation", token], queryFn: () => api.get<InvitationPreview>(paths.invitationPreview(token)), retry: false });
  const accept = useMutation({
    mutationFn: () => api.post<Accepted>(paths.acceptInvitation(token)),
    onSuccess: async (joined) => {
      await queries.invalidateQueries();
      navigate(`/workspaces/${joined.workspace_id}/miniprograms`);
    },
  });
  const here = encodeURIComponent(`/invitations/${token}`);
  if (preview.error)
    return (
      <Centered title="Invitation">
        <ProblemAlert error={preview.error} style={{ marginBottom: 16 }} />
        <Typography.Paragraph>The link may be mistyped. Ask the admin who invited you for a new one.</Typography.Paragraph>
      </Centered>
    );
  const invitation = preview.data;
  if (!invitation) return <Centered title="Invitation">{null}</Centered>;
  const workspace = invitation.workspace_name ?? "a workspace";
  const signedInAs = me?.email;
  const otherAccount = signedIn && signedInAs !== undefined && signedInAs.toLowerCase() !== invitation.email.toLowerCase();
  return (
    <Centered title={`Join ${workspace}`}>
      <Typography.Paragraph data-testid="invitation-preview">
        {invitation.invited_by ?? "An admin"} invited <Typography.Text strong>{invitation.email}</Typography.Text> to {workspace} as{" "}
        <Typography.Text strong>{ROLE_LABELS[invitation.role]}</Typography.Text>.
      </Typography.Paragraph>
      {invitation.status !== "pending" ? (
        <Alert type="warning" showIcon message={`This invitation is ${invitation.status}.`} description={`Ask an admin of ${workspace} for a new one.`} />
      ) : !signedIn ? (
        <>
          <Typography.Paragraph>Sign in as {invitation.email} to accept it, or create an account with that address.</Typography.Paragraph>
          <Space>
            <Link to={`/sign-in?next=${here}`}>
              <Button type="primary">Sign in</Button>
            </Link>
            <Link to={`/sign-up?next=${here}`}>
              <Button>Create an account</Button>
            </Link>
          </Space>
        </>
      ) : otherAccount ? (
        <>
          <Alert
            type="warning"
            showIcon
            style={{ marginBottom: 16 }}
            message={`You are signed in as ${signedInAs}`}
            description={`Only ${invitation.email} can accept this invitation.`}
          />
          <Space wrap>
            <Button type="primary" onClick={() => void signOut().then(() => navigate(`/sign-in?next=${here}`))}>
              Sign out, then sign in as {invitation.email}
            </Button>
            <Link to="/workspaces">
              <Button>Not now</Button>
            </Link>
          </Space>
        </>
      ) : (
        <>
          <Space>
            <Button type="primary" loading={accept.isPending} onClick={() => accept.mutate()}>
              Accept the invitation
            </Button>
            <Link to="/workspaces">
              <Button>Not now</Button>
            </Link>
          </Space>
          <ProblemAlert error={accept.error} style={{ marginTop: 16 }} />
        </>
      )}
    </Centered>
  );
}

export function VerifyEmail() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const { signedIn, reloadMe } = useAuth();
  const verify = useMutation({
    mutationFn: async () => {
      await api.post(paths.verifyEmail(), { token });
      // tokens say whether the email is verified: a signed-in tab takes new ones
      if (signedIn) await session.renew();
      reloadMe();
    },
  });
  const started = useRef(false);
  useEffect(() => {
    if (token && !started.current) {
      started.current = true;
      verify.mutate();
    }
  }, [token, verify]);
  return (
    <Centered title="Confirm your email">
      {verify.isSuccess ? (
        <Result
          status="success"
          title="Your email is confirmed"
          extra={
            <Link to={signedIn ? "/workspaces" : "/sign-in"}>
              <Button type="primary">{signedIn ? "Go to your workspaces" : "Sign in"}</Button>
            </Link>
          }
        />
      ) : verify.isError || !token ? (
        <>
          <ProblemAlert error={verify.error ?? new Error("This link has no token.")} style={{ marginBottom: 16 }} />
          <Typography.Paragraph>The link may be used or expired: sign in and ask for another.</Typography.Paragraph>
        </>
      ) : (
        <Typography.Paragraph>Confirming…</Typography.Paragraph>
      )}
    </Centered>
  );
}

/** Shown to a signed-in person whose email is not confirmed yet, with a button to mail the link again. */
export function VerifyEmailNotice() {
  const { me } = useAuth();
  const resend = useMutation({ mutationFn: () => api.post(paths.resendVerification()) });
  if (!me || me.email_verified !== false) return null;
  return (
    <Alert
      type="warning"
      showIcon
      style={{ marginBottom: 16 }}
      title={`Confirm your email: follow the link we sent to ${me.email}. Until then you cannot create or join a workspace.`}
      description={resend.isSuccess ? "Another link is on its way." : resend.isError ? <ProblemAlert error={resend.error} /> : undefined}
      action={
        <Button size="small" loading={resend.isPending} disabled={resend.isSuccess} onClick={() => resend.mutate()}>
          Send the link again
        </Button>
      }
    />
  );
}

export function ForgotPassword() {
  const ask = useMutation({ mutationFn: (email: string) => api.post(paths.passwordReset(), { email }) });
  return (
    <Centered title="Forgot your password?">
      {ask.isSuccess ? (
        <Result status="success" title="Check your mail" subTitle="If an account has that email, a link to choose a new password is on its way. It works once, for an hour." />
      ) : (
        <Form layout="vertical" onFinish={({ email }) => ask.mutate(email)}>
          <Form.Item label="Email" name="email" rules={[{ required: true, type: "email", message: "Enter your email address." }]}>
            <Input autoComplete="username" autoFocus />
          </Form.Item>
          <ProblemAlert error={ask.error} style={{ marginBottom: 16 }} />
          <Button type="primary" htmlType="submit" block loading={ask.isPending}>
            Mail me a link
          </Button>
        </Form>
      )}
      <Typography.Paragraph style={{ marginTop: 16, marginBottom: 0 }}>
        <Link to="/sign-in">Back to sign in</Link>
      </Typography.Paragraph>
    </Centered>
  );
}

export function ResetPassword() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [form] = Form.useForm();
  const reset = useMutation({
    mutationFn: (password: string) => api.post(paths.passwordResetConfirm(), { token, password }),
    onError: (failure) => showFieldErrors(form, failure),
  });
  return (
    <Centered title="Choose a new password">
      {reset.isSuccess ? (
        <Result
          status="success"
          title="Your password is changed"
          subTitle="You were signed out everywhere; sign in with the new password."
          extra={
            <Link to="/sign-in">
              <Button type="primary">Sign in</Button>
            </Link>
          }
        />
      ) : (
        <Form form={form} layout="vertical" onFinish={({ password }) => reset.mutate(password)}>
          <Form.Item label="New password" name="password" rules={[{ required: true, min: 10, message: "Use at least 10 characters." }]}>
            <Input.Password autoComplete="new-password" autoFocus />
          </Form.Item>
          <ProblemAlert error={reset.error} form={form} style={{ marginBottom: 16 }} />
          <Button type="primary" htmlType="submit" block loading={reset.isPending} disabled={!token}>
            Change password
          </Button>
        </Form>
      )}
    </Centered>
  );
}
