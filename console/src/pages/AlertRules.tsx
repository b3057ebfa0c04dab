import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Form, InputNumber, Modal, Popconfirm, Select, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { AlertKind, AlertRule } from "../api/types";
import { CursorTable } from "../components/CursorTable";
import { FormActions } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { can, useWorkspace, when } from "../workspace";

export const ALERT_KINDS: { value: AlertKind; label: string }[] = [
  { value: "crash_free_sessions_below", label: "Crash-free sessions below" },
  { value: "crash_free_users_below", label: "Crash-free users below" },
  { value: "error_spike", label: "Error spike" },
  { value: "new_issue", label: "New crash" },
  { value: "regression", label: "Regressed crash" },
];
const KIND_LABELS = Object.fromEntries(ALERT_KINDS.map((kind) => [kind.value, kind.label])) as Record<AlertKind, string>;
const crashFree = (kind: AlertKind | undefined) => kind === "crash_free_sessions_below" || kind === "crash_free_users_below";
/** Whether the worker judges the kind over a window of sessions (the others fire on each crash group). */
const windowed = (kind: AlertKind | undefined) => crashFree(kind) || kind === "error_spike";

/** What a rule watches, as people say it: `below 99.5% over 60 min, with 100 sessions at least`. */
export function condition(rule: AlertRule): string {
  if (crashFree(rule.kind)) return `below ${((rule.threshold ?? 0) * 100).toFixed(2)}% over ${rule.window_minutes} min, with ${rule.min_sessions} sessions at least`;
  if (rule.kind === "error_spike")
    return `${rule.threshold}× the average over ${rule.window_minutes} min, ${rule.min_errors} errors and ${rule.min_sessions} sessions at least`;
  return rule.kind === "new_issue" ? "every new crash group" : "every resolved crash group that comes back";
}

interface RuleValues {
  kind: AlertKind;
  percent?: number;
  factor?: number;
  min_sessions?: number;
  min_errors?: number;
  window_minutes?: number;
}

/** The body the API takes: a crash-free threshold is entered as a percentage and sent as a share. */
export function ruleBody(miniprogramId: string, values: RuleValues): object {
  const body: Record<string, unknown> = { miniprogram_id: miniprogramId, kind: values.kind };
  if (!windowed(values.kind)) return body;
  body.threshold = crashFree(values.kind) ? Math.round((values.percent ?? 0) * 100) / 10000 : values.factor;
  body.min_sessions = values.min_sessions;
  body.window_minutes = values.window_minutes;
  if (values.kind === "error_spike") body.min_errors = values.min_errors;
  return body;
}

function RuleForm({ onSubmit, busy, error, onCancel }: { onSubmit: (values: RuleValues) => void; busy: boolean; error: unknown; onCancel: () => void }) {
  const [form] = Form.useForm<RuleValues>();
  const kind = Form.useWatch("kind", form);
  useEffect(() => {
    if (error) showFieldErrors(form, error);
  }, [error, form]);
  return (
    <Form<RuleValues>
      form={form}
      layout="vertical"
      initialValues={{ kind: "crash_free_sessions_below", percent: 99.5, factor: 3, min_sessions: 100, min_errors: 10, window_minutes: 60 }}
      onFinish={onSubmit}
    >
      <Form.Item label="When" name="kind" rules={[{ required: true }]}>
        <Select options={ALERT_KINDS} />
      </Form.Item>
      {crashFree(kind) && (
        <Form.Item label="Threshold (%)" name="percent" rules={[{ required: true, message: "A percentage from 0 to 100." }]}>
          <InputNumber min={0} max={100} step={0.1} style={{ width: "100%" }} />
        </Form.Item>
      )}
      {kind === "error_spike" && (
        <>
          <Form.Item label="Times the average of the windows before" name="factor" rules={[{ required: true }]}>
            <InputNumber min={1.1} step={0.5} style={{ width: "100%" }} />
          </Form.Item>
          <Form.Item label="Errors at least" name="min_errors" rules={[{ required: true }]}>
            <InputNumber min={1} style={{ width: "100%" }} />
          </Form.Item>
        </>
      )}
      {windowed(kind) && (
        <>
          <Form.Item label="Sessions at least" name="min_sessions" rules={[{ required: true }]} extra="Fewer sessions in the window: no verdict, so that one crash at night pages nobody.">
            <InputNumber min={1} style={{ width: "100%" }} />
          </Form.Item>
          <Form.Item label="Window (minutes)" name="window_minutes" rules={[{ required: true }]}>
            <InputNumber min={5} max={10080} style={{ width: "100%" }} />
          </Form.Item>
        </>
      )}
      <FormActions error={error} busy={busy} submitText="Add rule" onCancel={onCancel} />
    </Form>
  );
}

/** A mini program's alert rules: their state, and for admins adding and deleting them. */
export function AlertRules({ miniprogramId }: { miniprogramId: string }) {
  const { ws, role } = useWorkspace();
  const admin = can.administer(role);
  const queries = useQueryClient();
  const [creating, setCreating] = useState(false);
  const refresh = () => queries.invalidateQueries({ queryKey: keys.alertRules(ws, miniprogramId) });
  const create = useMutation({
    mutationFn: (values: RuleValues) => api.post<AlertRule>(paths.alertRules(ws), ruleBody(miniprogramId, values)),
    onSuccess: async () => {
      await refresh();
      setCreating(false);
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => api.delete(paths.alertRule(ws, id)), onSuccess: refresh });
  return (
    <Card size="small" title="Alert rules" extra={admin && <Button onClick={() => setCreating(true)}>Add rule</Button>}>
      <ProblemAlert error={remove.error} style={{ marginBottom: 12 }} />
      <CursorTable<AlertRule>
        listKey={keys.alertRules(ws, miniprogramId)}
        path={paths.alertRules(ws)}
        query={{ miniprogram_id: miniprogramId }}
        empty={admin ? "No alert rules: add one to be told when crashes rise." : "No alert rules yet; an admin adds them."}
        columns={[
          { title: "When", dataIndex: "kind", render: (kind: AlertKind) => KIND_LABELS[kind] ?? kind },
          { title: "Condition", key: "condition", render: (_, rule) => condition(rule) },
          { title: "State", dataIndex: "state", render: (state: AlertRule["state"]) => <Tag color={state === "firing" ? "red" : "green"}>{state}</Tag> },
          { title: "Last fired", dataIndex: "last_fired_at", render: when },
          ...(admin
            ? [
                {
                  title: "",
                  key: "actions",
                  render: (_: unknown, rule: AlertRule) => (
                    <Popconfirm title="Delete this alert rule? It fires no more." onConfirm={() => remove.mutate(rule.id)}>
                      <Button size="small" danger>
                        Delete
                      </Button>
                    </Popconfirm>
                  ),
                },
              ]
            : []),
        ]}
      />
      <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
        A rule that fired stays firing, and fires again only after it has been back to ok.
      </Typography.Paragraph>
      <Modal open={creating} title="Add an alert rule" footer={null} onCancel={() => setCreating(false)} destroyOnHidden>
        <RuleForm onSubmit={(values) => create.mutate(values)} busy={create.isPending} error={create.error} onCancel={() => setCreating(false)} />
      </Modal>
    </Card>
  );
}
