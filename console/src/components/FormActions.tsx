import { Button, Form, type FormInstance, Space } from "antd";
import { ProblemAlert } from "./Problem";

/** The end of a form: the problem the last submission met, then, on the right as in every dialog,
 * a Cancel button when the form can be left and the submit button. */
export function FormActions({ error, busy, submitText, onCancel }: { error: unknown; busy: boolean; submitText: string; onCancel?: () => void }) {
  const form = Form.useFormInstance();
  return (
    <>
      <ProblemAlert error={error} form={form} style={{ marginBottom: 12 }} />
      <div style={{ display: "flex", justifyContent: "flex-end" }}>
        <Space>
          {onCancel && <Button onClick={onCancel}>Cancel</Button>}
          <Button type="primary" htmlType="submit" loading={busy}>
            {submitText}
          </Button>
        </Space>
      </div>
    </>
  );
}

/** A vertical form that edits something in place: its fields, then Save and Cancel. */
export function EditForm<T extends object>({ form, maxWidth, initialValues, onSave, error, busy, onCancel, children }: {
  form: FormInstance;
  maxWidth: number;
  initialValues: T;
  onSave: (values: T) => void;
  error: unknown;
  busy: boolean;
  onCancel: () => void;
  children: React.ReactNode;
}) {
  return (
    <Form form={form} layout="vertical" style={{ maxWidth }} initialValues={initialValues} onFinish={onSave}>
      {children}
      <FormActions error={error} busy={busy} submitText="Save" onCancel={onCancel} />
    </Form>
  );
}
