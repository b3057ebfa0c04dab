import { Button, Form, type FormInstance, Space } from "antd";
import { ProblemAlert } from "./Problem";

/** The end of a form: the problem the last submission met, then the submit button and, when the
 * form can be left, a Cancel button. */
export function FormActions({ error, busy, submitText, onCancel }: { error: unknown; busy: boolean; submitText: string; onCancel?: () => void }) {
  const form = Form.useFormInstance();
  return (
    <>
      <ProblemAlert error={error} form={form} style={{ marginBottom: 12 }} />
      <Space>
        <Button type="primary" htmlType="submit" loading={busy}>
          {submitText}
        </Button>
        {onCancel && <Button onClick={onCancel}>Cancel</Button>}
      </Space>
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
