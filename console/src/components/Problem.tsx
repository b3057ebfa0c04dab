import { Alert, type FormInstance } from "antd";
import { ApiError, type FieldError } from "../api/client";

const HINTS: Record<number, string> = {
  403: "Your role in this workspace does not allow this.",
  404: "It does not exist, or it is not in a workspace you belong to.",
  409: "This conflicts with the current state.",
  422: "Some fields are not valid.",
};

/** The server's field messages split into those that name a field of the form and the rest. */
function byForm(error: ApiError, form?: FormInstance): { onForm: FieldError[]; elsewhere: FieldError[] } {
  const known = new Set((form?.getFieldsError() ?? []).map((field) => [field.name].flat().join(".")));
  const fields = error.fieldErrors();
  const isOnForm = (field: FieldError) => known.has(field.name.join("."));
  return { onForm: fields.filter(isOnForm), elsewhere: fields.filter((field) => !isOnForm(field)) };
}

/** An API error as a person reads it: what went wrong, and each field's message. Given the form
 * that was sent, it leaves out the messages that showFieldErrors put beside that form's fields, and
 * is not shown at all when those say everything. */
export function ProblemAlert({ error, form, style }: { error: unknown; form?: FormInstance; style?: React.CSSProperties }) {
  if (!error) return null;
  if (!(error instanceof ApiError)) return <Alert type="error" showIcon title={String((error as Error).message ?? error)} style={style} />;
  const { onForm, elsewhere } = byForm(error, form);
  if (onForm.length > 0 && elsewhere.length === 0) return null;
  const description = (
    <>
      {error.problem.detail && error.problem.detail !== error.problem.title ? <div>{error.problem.detail}</div> : HINTS[error.status] && <div>{HINTS[error.status]}</div>}
      {elsewhere.length > 0 && (
        <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
          {elsewhere.map(({ name, errors }) => (
            <li key={name.join(".")}>
              <b>{name.join(".")}</b>: {errors.join(" ")}
            </li>
          ))}
        </ul>
      )}
    </>
  );
  return <Alert type="error" showIcon role="alert" title={error.problem.title} description={description} style={style} />;
}

/** Put the server's per-field messages (nested ones too) on the form fields they belong to; pass
 * the same form to the ProblemAlert of that error so that it does not repeat them. */
export function showFieldErrors(form: FormInstance, error: unknown) {
  if (error instanceof ApiError) form.setFields(byForm(error, form).onForm);
}
