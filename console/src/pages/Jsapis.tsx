import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Card, Checkbox, Form, Input, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { keys } from "../api/keys";
import { paths } from "../api/paths";
import type { Jsapi } from "../api/types";
import { CreateListCard, useCreateThenOpen } from "../components/CreateList";
import { CursorTable } from "../components/CursorTable";
import { EditableDetails } from "../components/Details";
import { FormActions } from "../components/FormActions";
import { ProblemAlert, showFieldErrors } from "../components/Problem";
import { can, useWorkspace, when } from "../workspace";

const JSON_SCHEMA_TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"];

/** Parse the parameters text as a JSON Schema: empty is none; otherwise an object whose `type`,
 * if given, is a JSON Schema type. Throws with a message for the form. */
export function parseParameters(text: string | undefined): Record<string, unknown> | null {
  if (!text || !text.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`Not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("A JSON Schema is an object, such as {\"type\": \"object\"}.");
  const type = (value as { type?: unknown }).type;
  const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
  const wrong = types.filter((item) => !JSON_SCHEMA_TYPES.includes(item as string));
  if (wrong.length) throw new Error(`"type" must be one of ${JSON_SCHEMA_TYPES.join(", ")}.`);
  const properties = (value as { properties?: unknown }).properties;
  if (properties !== undefined && (typeof properties !== "object" || properties === null || Array.isArray(properties))) throw new Error('"properties" must be an object.');
  return value as Record<string, unknown>;
}

const PLATFORM_OPTIONS = [
  { value: "ios", label: "iOS" },
  { value: "android", label: "Android" },
];

function JsapiForm({ initial, onSubmit, busy, error, submitText, onCancel, nameEditable }: {
  initial?: Jsapi;
  onSubmit: (body: object) => void;
  busy: boolean;
  error: unknown;
  submitText: string;
  onCancel?: () => void;
  nameEditable: boolean;
}) {
  const [form] = Form.useForm();
  useEffect(() => {
    if (error) showFieldErrors(form, error);
  }, [error, form]);
  return (
    <Form
      form={form}
      layout="vertical"
      initialValues={{ ...initial, platforms: initial?.platforms ?? ["ios", "android"], parameters: initial?.parameters ? JSON.stringify(initial.parameters, null, 2) : "" }}
      onFinish={({ parameters, ...rest }) => onSubmit({ ...rest, parameters: parseParameters(parameters) })}
    >
      {nameEditable && (
        <Form.Item label="Name" name="name" rules={[{ required: true, whitespace: true, message: "Name the JSAPI, e.g. getLocation." }]}>
          <Input placeholder="getLocation" />
        </Form.Item>
      )}
      <Form.Item label="Description" name="description" rules={[{ required: true, whitespace: true, message: "Describe what it does." }]}>
        <Input.TextArea rows={2} />
      </Form.Item>
      <Form.Item label="Platforms" name="platforms" rules={[{ required: true, type: "array", min: 1, message: "Choose at least one platform." }]}>
        <Checkbox.Group options={PLATFORM_OPTIONS} />
      </Form.Item>
      <Form.Item
        label="Parameters (JSON Schema)"
        name="parameters"
        rules={[{ validator: async (_, text) => void parseParameters(text) }]}
        extra='For example {"type": "object", "properties": {"accuracy": {"type": "string"}}}'
      >
        <Input.TextArea rows={6} style={{ fontFamily: "monospace" }} />
      </Form.Item>
      <FormActions error={error} busy={busy} submitText={submitText} onCancel={onCancel} />
    </Form>
  );
}

export function Jsapis() {
  const { ws, role } = useWorkspace();
  const { creating, setCreating, form } = useCreateThenOpen<Jsapi>(paths.jsapis(ws), keys.jsapis(ws), (created) => `/workspaces/${ws}/jsapis/${created.id}`);
  return (
    <CreateListCard
      title="JSAPIs"
      addText="New JSAPI"
      canAdd={can.administer(role)}
      creating={creating}
      setCreating={setCreating}
      dialogTitle="New JSAPI"
      dialogWidth={600}
      form={<JsapiForm nameEditable {...form} submitText="Create" />}
    >
      <CursorTable<Jsapi>
        listKey={keys.jsapis(ws)}
        path={paths.jsapis(ws)}
        empty={can.administer(role) ? "No JSAPIs yet: add the first one that mini programs may call." : "No JSAPIs yet."}
        columns={[
          { title: "Name", dataIndex: "name", render: (name, row) => <Link to={`/workspaces/${ws}/jsapis/${row.id}`}>{name}</Link> },
          { title: "Description", dataIndex: "description", ellipsis: true },
          { title: "Platforms", dataIndex: "platforms", render: (platforms: string[]) => platforms.map((item) => <Tag key={item}>{item}</Tag>) },
          { title: "Created", dataIndex: "created_at", render: when },
        ]}
      />
    </CreateListCard>
  );
}

export function JsapiDetail() {
  const { ws, role } = useWorkspace();
  const { id = "" } = useParams();
  const [editing, setEditing] = useState(false);
  const queries = useQueryClient();
  const jsapi = useQuery({ queryKey: keys.jsapi(ws, id), queryFn: () => api.get<Jsapi>(paths.jsapi(ws, id)) });
  const save = useMutation({
    mutationFn: (body: object) => api.patch<Jsapi>(paths.jsapi(ws, id), body),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: keys.jsapi(ws, id) });
      setEditing(false);
    },
  });
  if (jsapi.error) return <ProblemAlert error={jsapi.error} />;
  if (!jsapi.data) return <Card loading />;
  return (
    <Card title={<Link to={`/workspaces/${ws}/jsapis`}>JSAPIs</Link>} extra={<Typography.Title level={4} style={{ margin: 0 }}>{jsapi.data.name}</Typography.Title>}>
      {editing ? (
        <JsapiForm initial={jsapi.data} nameEditable={false} onSubmit={(body) => save.mutate(body)} busy={save.isPending} error={save.error} submitText="Save" onCancel={() => setEditing(false)} />
      ) : (
        <EditableDetails
          canEdit={can.administer(role)}
          onEdit={() => setEditing(true)}
          items={[
            { label: "Name", children: jsapi.data.name },
            { label: "Description", children: jsapi.data.description },
            { label: "Platforms", children: jsapi.data.platforms.join(", ") },
            { label: "Parameters", children: jsapi.data.parameters ? <pre style={{ margin: 0 }}>{JSON.stringify(jsapi.data.parameters, null, 2)}</pre> : "None" },
            { label: "Created", children: when(jsapi.data.created_at) },
          ]}
        />
      )}
    </Card>
  );
}
