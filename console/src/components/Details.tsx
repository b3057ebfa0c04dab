import { Button, Descriptions, type DescriptionsProps, Typography } from "antd";

/** An item's fields, one per row, with an Edit button for those who may edit it. */
export function EditableDetails({ canEdit, onEdit, items }: { canEdit: boolean; onEdit: () => void; items: DescriptionsProps["items"] }) {
  return <Descriptions bordered column={1} extra={canEdit && <Button onClick={onEdit}>Edit</Button>} items={items} />;
}

/** The title of the item a detail page shows, at the top of its card. */
export function ItemTitle({ children }: { children: React.ReactNode }) {
  return (
    <Typography.Title level={4} style={{ marginTop: 0 }}>
      {children}
    </Typography.Title>
  );
}
