// A launch's rollout plan and its health, on the launch page: the plan's steps, pausing and
// resuming it, planning one, and the version's figures beside the released version's.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Form, InputNumber, Modal, Radio, Space, Steps, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { api, ApiError } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { LIVE_INTERVAL_MS } from "../api/queries";
import type { Launch, LaunchFigures, LaunchHealth, Rollout, RolloutPlan } from "../api/types";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { when } from "../workspace";

export const ROLLOUT_COLORS: Record<Rollout["state"], string> = { running: "processing", paused: "warning", completed: "success", halted: "magenta" };
export const VERDICT_COLORS: Record<LaunchHealth["verdict"], string> = { healthy: "success", failing: "error", insufficient_data: "default" };

/** The statuses from which a launch may be given a plan (else the API answers 409). */
const PLANNABLE: Launch["status"][] = ["pilot", "ready", "grayscale", "halted"];

/** How long a step is held, as a person reads it. */
export function holdLabel(seconds: number): string {
  if (seconds === 0) return "no hold";
  if (seconds % 86400 === 0) return seconds === 86400 ? "1 day" : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** A share from 0 to 1 as a percentage, or a dash where there is none (no sessions yet). */
export function share(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Number((value * 100).toFixed(2))}%`;
}

/** What the plan dialog asks: a preset or custom steps (holds in hours), and optional guard floors in percent. */
export interface PlanValues {
  kind: "preset" | "custom";
  steps?: { percentage: number; hold_hours: number }[];
  crash_free_sessions?: number | null;
  min_sessions?: number | null;
}

/** The body of PUT …/rollout from the dialog's values: the guard only when it names a floor, since
 * a guard without one is refused; shares are sent from 0 to 1. */
export function planBody(values: PlanValues): RolloutPlan {
  const body: RolloutPlan =
    values.kind === "preset"
      ? { preset: "phased_7_days" }
      : { steps: (values.steps ?? []).map((step) => ({ percentage: step.percentage, hold_seconds: Math.round(step.hold_hours * 3600) })) };
  if (values.crash_free_sessions !== null && values.crash_free_sessions !== undefined) {
    body.guard = { min_crash_free_sessions: Number((values.crash_free_sessions / 100).toFixed(4)) };
    if (values.min_sessions) body.guard.min_sessions = values.min_sessions;
  }
  return body;
}

/** Why the guard halted the launch: the reason of its latest halt, if the guard made it. */
export function haltReason(history: Launch["history"]): string | null {
  const halt = [...history].reverse().find((step) => step.status === "halted");
  return halt?.by === "guard" ? (halt.reason ?? "The guard halted the rollout.") : null;
}

function stepStatus(state: Rollout["state"]): "process" | "wait" | "finish" | "error" {
  return { running: "process", paused: "wait", completed: "finish", halted: "error" }[state] as "process" | "wait" | "finish" | "error";
}

function PlanRollout({ ws, mp, launch, open, onClose }: { ws: string; mp: string; launch: Launch; open: boolean; onClose: () => void }) {
  const [form] = Form.useForm<PlanValues>();
  const queries = useQueryClient();
  const kind = Form.useWatch("kind", form);
  const plan = useMutation({
    mutationFn: (values: PlanValues) => api.put<Launch>(paths.rollout(ws, mp, launch.id), planBody(values)),
    onSuccess: async () => {
      void queries.invalidateQueries({ queryKey: keys.launches(ws, mp) });
      await queries.invalidateQueries({ queryKey: keys.launch(ws, mp, launch.id) });
      onClose();
    },
    onError: (error) => showFieldErrors(form, error),
  });
  return (
    <Modal open={open} title="Plan a rollout" okText="Start rollout" onOk={() => form.submit()} onCancel={onClose} confirmLoading={plan.isPending} destroyOnHidden>
      <Form form={form} layout="vertical" initialValues={{ kind: "preset", steps: [{ percentage: 10, hold_hours: 24 }, { percentage: 100, hold_hours: 0 }] }} onFinish={(values) => plan.mutate(values)}>
        <Form.Item name="kind" label="Steps">
          <Radio.Group
            options={[
              { value: "preset", label: "Phased over 7 days" },
              { value: "custom", label: "Custom steps" },
            ]}
          />
        </Form.Item>
        {kind === "preset" ? (
          <Typography.Paragraph type="secondary">1, 2, 5, 10, 20, 50 and 100% of users, a day each; the first step is published at once.</Typography.Paragraph>
        ) : (
          <Form.List name="steps">
            {(fields, { add, remove }, { errors }) => (
              <>
                {fields.map((field, index) => (
                  <Space key={field.key} align="baseline">
                    <Form.Item name={[field.name, "percentage"]} rules={[{ required: true, message: "A share." }]}>
                      <InputNumber min={1} max={100} suffix="%" aria-label={`Step ${index + 1} share`} />
                    </Form.Item>
                    <Form.Item name={[field.name, "hold_hours"]} rules={[{ required: true, message: "A hold." }]}>
                      <InputNumber min={0} max={720} suffix="h held" aria-label={`Step ${index + 1} hold in hours`} />
                    </Form.Item>
                    {fields.length > 1 && <Button onClick={() => remove(field.name)}>Remove</Button>}
                  </Space>
                ))}
                <Form.Item extra="Each step a larger share than the one before, the last at 100%.">
                  <Button onClick={() => add({ percentage: 100, hold_hours: 0 })}>Add step</Button>
                  <Form.ErrorList errors={errors} />
                </Form.Item>
              </>
            )}
          </Form.List>
        )}
        <Typography.Title level={5}>Guard (optional)</Typography.Title>
        <Typography.Paragraph type="secondary">The rollout halts by itself, and everyone gets the released version, when the version's health falls below the floor.</Typography.Paragraph>
        <Space align="baseline">
          <Form.Item label="Crash-free sessions at least" name="crash_free_sessions">
            <InputNumber min={0} max={100} step={0.1} suffix="%" placeholder="99.5" />
          </Form.Item>
          <Form.Item
            label="Judged after sessions"
            name="min_sessions"
            dependencies={["crash_free_sessions"]}
            rules={[
              ({ getFieldValue }) => ({
                validator: (_, value) =>
                  value && (getFieldValue("crash_free_sessions") === null || getFieldValue("crash_free_sessions") === undefined)
                    ? Promise.reject(new Error("Give the crash-free floor it guards."))
                    : Promise.resolve(),
              }),
            ]}
          >
            <InputNumber min={1} placeholder="100" />
          </Form.Item>
        </Space>
      </Form>
      <ProblemAlert error={plan.error} form={form} />
    </Modal>
  );
}

/** The plan's steps, its state and next step, Pause / Resume; or, without a plan, a way to make one. */
export function RolloutCard({ ws, mp, launch, mayPublish }: { ws: string; mp: string; launch: Launch; mayPublish: boolean }) {
  const queries = useQueryClient();
  const [planning, setPlanning] = useState(false);
  const toggle = useMutation({
    mutationFn: (action: "pause" | "resume") => api.post<Launch>(paths.rolloutAction(ws, mp, launch.id, action)),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: keys.launches(ws, mp) });
      return queries.invalidateQueries({ queryKey: keys.launch(ws, mp, launch.id) });
    },
  });
  const rollout = launch.rollout;
  if (!rollout) {
    if (!mayPublish || !PLANNABLE.includes(launch.status)) return null;
    return (
      <Card size="small" title="Rollout" style={{ marginTop: 16 }} data-testid="rollout-card">
        <Typography.Paragraph type="secondary">A plan publishes growing shares of users by itself, each held a while; a guard can halt it when the version's health falls.</Typography.Paragraph>
        <Button onClick={() => setPlanning(true)}>Plan a rollout</Button>
        <PlanRollout ws={ws} mp={mp} launch={launch} open={planning} onClose={() => setPlanning(false)} />
      </Card>
    );
  }
  return (
    <Card
      size="small"
      title="Rollout"
      style={{ marginTop: 16 }}
      data-testid="rollout-card"
      extra={
        <Tag color={ROLLOUT_COLORS[rollout.state]} data-testid="rollout-state">
          {rollout.state}
        </Tag>
      }
    >
      <Steps
        size="small"
        current={rollout.current_step}
        status={stepStatus(rollout.state)}
        items={rollout.steps.map((step) => ({ title: `${step.percentage}%`, content: holdLabel(step.hold_seconds) }))}
      />
      <Space style={{ marginTop: 12 }} wrap>
        <Typography.Text type="secondary">Started {when(rollout.started_at)}</Typography.Text>
        {rollout.next_step_at && <Typography.Text data-testid="rollout-next">Next step {when(rollout.next_step_at)}</Typography.Text>}
        {mayPublish && rollout.state === "running" && (
          <Button loading={toggle.isPending} onClick={() => toggle.mutate("pause")}>
            Pause
          </Button>
        )}
        {mayPublish && rollout.state === "paused" && (
          <Button type="primary" loading={toggle.isPending} onClick={() => toggle.mutate("resume")}>
            Resume
          </Button>
        )}
      </Space>
      <ProblemAlert error={toggle.error} style={{ marginTop: 12 }} />
    </Card>
  );
}

const FIGURES: { label: string; of: (figures: LaunchFigures) => string }[] = [
  { label: "Sessions", of: (figures) => figures.sessions.toLocaleString() },
  { label: "Crash-free sessions", of: (figures) => share(figures.crash_free_sessions) },
  { label: "Crash-free users", of: (figures) => share(figures.crash_free_users) },
  { label: "Errors", of: (figures) => figures.error_count.toLocaleString() },
];

/** The version's figures on its host app beside the released version's over the same days, and the verdict. */
export function HealthCard({ ws, mp, launch }: { ws: string; mp: string; launch: Launch }) {
  // a grayscale's figures grow as its users arrive
  const health = useQuery({
    queryKey: keys.launchHealth(ws, mp, launch.id),
    queryFn: () => api.get<LaunchHealth>(paths.launchHealth(ws, mp, launch.id)),
    refetchInterval: launch.status === "grayscale" ? 5 * LIVE_INTERVAL_MS : false,
  });
  const reason = launch.status === "halted" ? haltReason(launch.history) : null;
  const data = health.data;
  // Telemetry learns of a launch a moment after it is made: until then it has no figures for it.
  const notYet = health.error instanceof ApiError && health.error.status === 404;
  return (
    <Card
      size="small"
      title="Health"
      style={{ marginTop: 16 }}
      loading={health.isPending}
      extra={
        data && (
          <Tag color={VERDICT_COLORS[data.verdict]} data-testid="health-verdict">
            {data.verdict.replace("_", " ")}
          </Tag>
        )
      }
    >
      {reason && <Alert type="error" showIcon title="The guard halted this rollout" description={reason} style={{ marginBottom: 12 }} data-testid="halt-reason" />}
      {notYet ? <Typography.Text type="secondary">No figures yet.</Typography.Text> : <ProblemAlert error={health.error} />}
      {data && (
        <>
          <Table
            size="small"
            pagination={false}
            rowKey="label"
            dataSource={FIGURES}
            columns={[
              { title: "", dataIndex: "label" },
              { title: `This version (${data.versions.version})`, render: (_, row) => row.of(data.version) },
              { title: data.versions.baseline ? `Released (${data.versions.baseline})` : "Released", render: (_, row) => (data.baseline ? row.of(data.baseline) : "—") },
            ]}
          />
          <Typography.Text type="secondary" style={{ display: "block", marginTop: 8 }}>
            {data.from} to {data.to}
            {data.reason ? ` · ${data.reason}` : ""}
          </Typography.Text>
        </>
      )}
    </Card>
  );
}
