import { Alert, Modal, Typography } from "antd";

/** A secret the platform shows once (an app key's secret, an API key's token), with copy. */
export function SecretOnce({ title, secret, extra, onClose }: { title: string; secret: string | null; extra?: React.ReactNode; onClose: () => void }) {
  return (
    // the secret, not the button that closes it, is what the dialog is for: focus goes to its copy button.
    // No closing animation: the dialog keeps its content while it animates out, and the secret
    // is to leave the page the moment it is closed.
    <Modal
      open={secret !== null}
      destroyOnHidden
      transitionName=""
      maskTransitionName=""
      title={title}
      onOk={onClose}
      onCancel={onClose}
      cancelButtonProps={{ style: { display: "none" } }}
      okText="I have copied it"
      afterOpenChange={(open) => open && document.querySelector<HTMLElement>("[data-testid=secret] .ant-typography-copy")?.focus()}
    >
      <Alert type="warning" showIcon title="Copy it now: it is shown only this once and cannot be read again." style={{ marginBottom: 12 }} />
      {extra}
      <Typography.Paragraph copyable={{ text: secret ?? "" }} code data-testid="secret" style={{ wordBreak: "break-all" }}>
        {secret}
      </Typography.Paragraph>
    </Modal>
  );
}
