import { UploadOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App as AntApp, Button, Card, Col, Form, type FormItemProps, type FormRule, Image, Input, InputNumber, Progress, Row, Select, Space, Switch, Typography, Upload } from "antd";
import { useState } from "react";
import { api, upload } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Settings, SettingsPut } from "../api/types";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { can, useWorkspace } from "../workspace";

function ImageSetting({ kind, label, url, accept }: { kind: "logo" | "favicon"; label: string; url: string | null; accept: string }) {
  const { ws } = useWorkspace();
  const queries = useQueryClient();
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  return (
    <Card size="small" title={label}>
      <Space align="start">
        <div style={{ width: 96, height: 96, border: "1px dashed #d9d9d9", display: "flex", alignItems: "center", justifyContent: "center", background: "#fafafa" }}>
          {url ? <Image src={url} alt={`${label} preview`} width={80} height={80} style={{ objectFit: "contain" }} preview={false} /> : <Typography.Text type="secondary">none</Typography.Text>}
        </div>
        <Space orientation="vertical">
          <Upload
            accept={accept}
            showUploadList={false}
            beforeUpload={async (file) => {
              const body = new FormData();
              body.set("file", file);
              setError(null);
              setProgress(0);
              try {
                await upload<Settings>(paths.settingsUpload(ws, kind), body, setProgress);
                await queries.invalidateQueries({ queryKey: keys.settings(ws) });
              } catch (failure) {
                setError(failure);
              } finally {
                setProgress(null);
              }
              return false;
            }}
          >
            <Button icon={<UploadOutlined />} loading={progress !== null}>
              Upload {label.toLowerCase()}
            </Button>
          </Upload>
          {progress !== null && <Progress percent={progress} size="small" style={{ width: 160 }} />}
          <Typography.Text type="secondary">{kind === "logo" ? "PNG or SVG, up to 512 KiB" : "PNG, ICO or SVG, up to 256 KiB"}</Typography.Text>
        </Space>
      </Space>
      <ProblemAlert error={error} style={{ marginTop: 8 }} />
    </Card>
  );
}

/** The service email's fields that the platform needs together: filling one asks for the others. */
const EMAIL_FIELDS = ["sender", "smtp_host", "smtp_port"];
const neededWithTheOthers = (message: string): FormRule[] => [
  ({ getFieldValue }) => ({ required: EMAIL_FIELDS.some((field) => getFieldValue(field)), message }),
];

/** A form field in a cell of a grid row. */
function FieldCell({ span, children, ...item }: FormItemProps & { span: number; children: React.ReactNode }) {
  return (
    <Col xs={24} md={span}>
      <Form.Item {...item}>{children}</Form.Item>
    </Col>
  );
}

export function SettingsPage() {
  const { ws, role } = useWorkspace();
  const [form] = Form.useForm();
  const queries = useQueryClient();
  const { message } = AntApp.useApp();
  const settings = useQuery({ queryKey: keys.settings(ws), queryFn: () => api.get<Settings>(paths.settings(ws)) });
  const save = useMutation({
    mutationFn: (body: SettingsPut) => api.put<Settings>(paths.settings(ws), body),
    onSuccess: () => {
      message.success("Settings saved");
      void queries.invalidateQueries({ queryKey: keys.settings(ws) });
    },
    onError: (error) => showFieldErrors(form, error),
  });
  if (!can.administer(role)) return <Card title="Settings">Only workspace admins change the settings.</Card>;
  if (settings.error) return <ProblemAlert error={settings.error} />;
  if (!settings.data) return <Card loading title="Settings" />;
  const data = settings.data;
  const submit = (values: {
    sender?: string;
    smtp_host?: string;
    smtp_port?: number;
    smtp_username?: string;
    smtp_password?: string;
    primary?: string;
    alternatives?: string[];
    tester_whitelist_enabled: boolean;
    require_mfa: boolean;
    about_us_url?: string;
    terms_of_service_url?: string;
  }) => {
    // the form asks for all three once one is filled (neededWithTheOthers); none of them: no service email
    const { sender, smtp_host, smtp_port } = values;
    save.mutate({
      logo_url: data.logo_url,
      favicon_url: data.favicon_url,
      service_email:
        sender && smtp_host && smtp_port
          ? {
              sender,
              smtp_host,
              smtp_port,
              smtp_username: values.smtp_username || null,
              // left out, the stored password is kept
              ...(values.smtp_password ? { smtp_password: values.smtp_password } : {}),
            }
          : null,
      domains: values.primary || values.alternatives?.length ? { primary: values.primary || null, alternatives: values.alternatives ?? [] } : null,
      tester_whitelist_enabled: values.tester_whitelist_enabled,
      require_mfa: values.require_mfa,
      about_us_url: values.about_us_url || null,
      terms_of_service_url: values.terms_of_service_url || null,
    });
  };
  return (
    <Card title="Settings">
      <Row gutter={[16, 16]} style={{ marginBottom: 24 }}>
        <Col xs={24} md={12}>
          <ImageSetting kind="logo" label="Logo" url={data.logo_url} accept=".png,.svg,image/png,image/svg+xml" />
        </Col>
        <Col xs={24} md={12}>
          <ImageSetting kind="favicon" label="Favicon" url={data.favicon_url} accept=".png,.ico,.svg,image/png,image/x-icon,image/svg+xml" />
        </Col>
      </Row>
      <Form
        form={form}
        layout="vertical"
        style={{ maxWidth: 640 }}
        onFinish={submit}
        initialValues={{
          ...data.service_email,
          smtp_password: "",
          primary: data.domains.primary,
          alternatives: data.domains.alternatives,
          tester_whitelist_enabled: data.tester_whitelist_enabled,
          require_mfa: data.require_mfa,
          about_us_url: data.about_us_url,
          terms_of_service_url: data.terms_of_service_url,
        }}
      >
        <Typography.Title level={5}>Service email</Typography.Title>
        <Row gutter={12}>
          <FieldCell span={12} label="Sender" name="sender" dependencies={EMAIL_FIELDS} rules={[{ type: "email", message: "An email address." }, ...neededWithTheOthers("The sender address, with the SMTP host and port.")]}>
            <Input placeholder="noreply@example.com" />
          </FieldCell>
          <FieldCell span={8} label="SMTP host" name="smtp_host" dependencies={EMAIL_FIELDS} rules={neededWithTheOthers("The SMTP host, with the sender and port.")}>
            <Input placeholder="smtp.example.com" />
          </FieldCell>
          <FieldCell span={4} label="Port" name="smtp_port" dependencies={EMAIL_FIELDS} rules={neededWithTheOthers("The port.")}>
            <InputNumber min={1} max={65535} style={{ width: "100%" }} />
          </FieldCell>
          <FieldCell span={12} label="SMTP username" name="smtp_username">
            <Input autoComplete="off" />
          </FieldCell>
          <FieldCell
            span={12}
            label="SMTP password"
            name="smtp_password"
            extra={data.service_email?.smtp_password_set ? "A password is stored: left empty, it is kept." : "No password is stored."}
          >
            <Input.Password autoComplete="new-password" />
          </FieldCell>
        </Row>
        <Typography.Title level={5}>Domains</Typography.Title>
        <Form.Item label="Primary domain" name="primary">
          <Input placeholder="miniapps.example.com" />
        </Form.Item>
        <Form.Item label="Alternative domains" name="alternatives" extra="Type a domain and press Enter.">
          <Select mode="tags" open={false} tokenSeparators={[",", " "]} />
        </Form.Item>
        <Typography.Title level={5}>Testers and links</Typography.Title>
        <Form.Item label="Whitelist for testers" name="tester_whitelist_enabled" valuePropName="checked" extra="On: an approved launch goes to pilot for whitelisted testers first.">
          <Switch />
        </Form.Item>
        <Form.Item label="About Us URL" name="about_us_url" rules={[{ type: "url", message: "An http(s) URL." }]}>
          <Input placeholder="https://example.com/about" />
        </Form.Item>
        <Form.Item label="Terms of Service URL" name="terms_of_service_url" rules={[{ type: "url", message: "An http(s) URL." }]}>
          <Input placeholder="https://example.com/terms" />
        </Form.Item>
        <Typography.Title level={5}>Security</Typography.Title>
        <Form.Item
          label="Require two-factor sign-in"
          name="require_mfa"
          valuePropName="checked"
          extra={
            <>
              On: members who have not turned on two-factor sign-in, or who signed in without its code, can open this workspace and its member list but nothing else in it, until they turn it on (Security, under their name) and sign in again with the code. To turn it on, you need two-factor sign-in
              yourself, and to have signed in with it. API keys keep working.
            </>
          }
        >
          <Switch />
        </Form.Item>
        <ProblemAlert error={save.error} form={form} style={{ marginBottom: 12 }} />
        <Button type="primary" htmlType="submit" loading={save.isPending}>
          Save settings
        </Button>
      </Form>
    </Card>
  );
}
