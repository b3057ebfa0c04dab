import { Alert, type FormInstance } from "antd";
import { ApiError } from "../api/client";

const HINTS: Record<number, string> = {
  403: "Your role in this workspace does not allow this.",
  404: "It does not exist, or it is not in a workspace you belong to.",
  409: "This conflicts with the current state.",
  422: "Some fields are not valid.",
};

/** An API error as a person reads it: what went wrong, and each field's message. */
export function ProblemAlert({ error, style }: { error: unknown; style?: React.CSSProperties }) {
  if (!error) return null;
  if (!(error instanceof ApiError)) return <Alert type="error" showIcon title={String((error as Error).message ?? error)} style={style} />;
  const fields = Object.entries(error.fieldErrors());
  const description = (
    <>
      {error.problem.detail && error.problem.detail !== error.problem.title ? <div>{error.problem.detail}</div> : HINTS[error.status] && <div>{HINTS[error.status]}</div>}
      {fields.length > 0 && (
        <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
          {fields.map(([field, messages]) => (
            <li key={field}>
              <b>{field}</b>: {messages.join(" ")}
            </li>
          ))}
        </ul>
      )}
    </>
  );
  return <Alert type="error" showIcon role="alert" title={error.problem.title} description={description} style={style} />;
}

type Nested = { [field: string]: string[] | Nested };

function flatten(errors: Nested, prefix: string[] = []): { name: string[]; errors: string[] }[] {
  return Object.entries(errors).flatMap(([field, value]) => (Array.isArray(value) ? [{ name: [...prefix, field], errors: value.map(String) }] : flatten(value, [...prefix, field])));
}

/** Put the server's per-field messages (nested ones too) on the form fields they belong to; true
 * if any matched a field of the form. */
export function showFieldErrors(form: FormInstance, error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  const known = new Set(form.getFieldsError().map((field) => [field.name].flat().join(".")));
  const fields = flatten((error.problem.errors ?? {}) as Nested).filter((field) => known.has(field.name.join(".")));
  form.setFields(fields);
  return fields.length > 0;
}
