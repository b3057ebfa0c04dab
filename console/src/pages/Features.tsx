import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Card, Form, Input, Radio, Select, Switch, Tabs, Tag, Timeline, Typography } from "antd";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import { wholeLists } from "../api/queries";
import type { Feature, FeatureRevision, Page } from "../api/types";
import { CreateListCard, useCreateThenOpen } from "../components/CreateList";
import { CursorTable } from "../components/CursorTable";
import { EditableDetails } from "../components/Details";
import { FormActions } from "../components/FormActions";
import { changesOf, DiffView } from "../components/DiffView";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { can, useMemberNames, useWorkspace, when } from "../workspace";

const LABELS = { name: "Name", description: "Description", activation: "Activation", visible_to_all: "Visible to all", jsapi_ids: "JSAPIs" };

function useJsapis(ws: string) {
  const jsapis = useQuery(wholeLists.jsapis(ws));
  const items = jsapis.data?.items ?? [];
  return { items, name: (id: string) => items.find((item) => item.id === id)?.name ?? id };
}

function FeatureForm({ initial, onSubmit, busy, error, submitText, onCancel }: {
  initial?: Feature;
  onSubmit: (body: object) => void;
  busy: boolean;
  error: unknown;
  submitText: string;
  onCancel?: () => void;
}) {
  const { ws } = useWorkspace();
  const [form] = Form.useForm();
  const jsapis = useJsapis(ws);
  useEffect(() => {
    if (error) showFieldErrors(form, error);
  }, [error, form]);
  return (
    <Form form={form} layout="vertical" initialValues={initial ?? { activation: "direct", visible_to_all: true, jsapi_ids: [] }} onFinish={onSubmit}>
      <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, message: "Name the feature." }]}>
        <Input />
      </Form.Item>
      <Form.Item label="Description" name="description" rules={[{ required: true, whitespace: true, message: "Describe the feature." }]}>
        <Input.TextArea rows={3} />
      </Form.Item>
      <Form.Item label="Activation" name="activation">
        <Radio.Group options={[{ value: "direct", label: "Direct: active once requested" }, { value: "approval", label: "Needs approval" }]} />
      </Form.Item>
      <Form.Item label="Visible to all mini programs" name="visible_to_all" valuePropName="checked">
        <Switch />
      </Form.Item>
      <Form.Item label="JSAPIs" name="jsapi_ids">
        <Select mode="multiple" options={jsapis.items.map((item) => ({ value: item.id, label: item.name }))} placeholder="The JSAPIs this feature opens" />
      </Form.Item>
      <FormActions error={error} busy={busy} submitText={submitText} onCancel={onCancel} />
    </Form>
  );
}

export function Features() {
  const { ws, role } = useWorkspace();
  const { creating, setCreating, form } = useCreateThenOpen<Feature>(paths.features(ws), keys.features(ws), (created) => `/workspaces/${ws}/features/${created.id}`);
  return (
    <CreateListCard
      title="Features"
      addText="Add feature"
      canAdd={can.administer(role)}
      creating={creating}
      setCreating={setCreating}
      dialogTitle="Add feature"
      dialogWidth={600}
      form={<FeatureForm {...form} submitText="Add" />}
    >
      <CursorTable<Feature>
        listKey={keys.features(ws)}
        path={paths.features(ws)}
        empty={can.administer(role) ? "No features yet: add one to bundle JSAPIs that mini programs can request." : "No features yet."}
        columns={[
          { title: "Name", dataIndex: "name", render: (name, row) => <Link to={`/workspaces/${ws}/features/${row.id}`}>{name}</Link> },
          { title: "Description", dataIndex: "description", ellipsis: true },
          { title: "Activation", dataIndex: "activation", render: (activation) => <Tag color={activation === "approval" ? "gold" : "green"}>{activation}</Tag> },
          { title: "Revision", dataIndex: "revision" },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
    </CreateListCard>
  );
}

function History({ id }: { id: string }) {
  const { ws } = useWorkspace();
  const jsapis = useJsapis(ws);
  const person = useMemberNames(ws);
  const history = useQuery({ queryKey: keys.featureHistory(ws, id), queryFn: () => api.get<Page<FeatureRevision>>(paths.featureHistory(ws, id), { limit: 200 }) });
  if (history.error) return <ProblemAlert error={history.error} />;
  const names = (ids: unknown) => (Array.isArray(ids) ? ids.map((id) => jsapis.name(String(id))) : []);
  const named = (changes: FeatureRevision["changes"]) =>
    Object.fromEntries(
      Object.entries(changesOf(changes)).map(([field, change]) => (field === "jsapi_ids" ? [field, { old: names(change.old), new: names(change.new) }] : [field, change])),
    );
  return (
    <Timeline
      items={(history.data?.items ?? []).map((revision) => ({
        content: (
          <div data-testid={`revision-${revision.revision}`}>
            <Typography.Text strong>Revision {revision.revision}</Typography.Text> <Typography.Text type="secondary">
              · {when(revision.changed_at)} · by {person(revision.changed_by)}
            </Typography.Text>
            <div style={{ marginTop: 6 }}>
              <DiffView changes={named(revision.changes)} labels={LABELS} />
            </div>
          </div>
        ),
      }))}
    />
  );
}

export function FeatureDetail() {
  const { ws, role } = useWorkspace();
  const { id = "" } = useParams();
  const [editing, setEditing] = useState(false);
  const queries = useQueryClient();
  const jsapis = useJsapis(ws);
  const feature = useQuery({ queryKey: keys.feature(ws, id), queryFn: () => api.get<Feature>(paths.feature(ws, id)) });
  const save = useMutation({
    mutationFn: (body: object) => api.patch<Feature>(paths.feature(ws, id), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.feature(ws, id) });
      await queries.invalidateQueries({ queryKey: keys.featureHistory(ws, id) });
      setEditing(false);
    },
  });
  if (feature.error) return <ProblemAlert error={feature.error} />;
  const data = feature.data;
  if (!data) return <Card loading />;
  const details = editing ? (
    <FeatureForm initial={data} onSubmit={(body) => save.mutate(body)} busy={save.isPending} error={save.error} submitText="Save" onCancel={() => setEditing(false)} />
  ) : (
    <EditableDetails
      canEdit={can.administer(role)}
      onEdit={() => setEditing(true)}
      items={[
        { label: "Name", children: data.name },
        { label: "Description", children: data.description },
        { label: "Activation", children: data.activation },
        { label: "Visible to all", children: data.visible_to_all ? "yes" : "no" },
        { label: "JSAPIs", children: data.jsapi_ids.map((jsapi) => <Tag key={jsapi}>{jsapis.name(jsapi)}</Tag>) },
        { label: "Revision", children: data.revision },
      ]}
    />
  );
  return (
    <Card title={<Link to={`/workspaces/${ws}/features`}>Features</Link>} extra={<Typography.Title level={4} style={{ margin: 0 }}>{data.name}</Typography.Title>}>
      <Tabs
        items={[
          { key: "details", label: "Details", children: details },
          { key: "history", label: "History", children: <History id={id} /> },
        ]}
      />
    </Card>
  );
}
