import { type QueryKey, useMutation, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Modal } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../api/client";

/** Creating an item from its list: whether the create dialog is open, and the mutation that posts
 * the body to `path`, refreshes the list under `listKey` (from `keys`), closes the dialog and opens the new item
 * at the page `to` names. `form` holds the props a create form takes. */
export function useCreateThenOpen<T extends { id: string }>(path: string, listKey: QueryKey, to: (created: T) => string) {
  const [creating, setCreating] = useState(false);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const create = useMutation({
    mutationFn: (body: object) => api.post<T>(path, body),
    onSuccess: async (created) => {
      await queries.invalidateQueries({ queryKey: listKey });
      setCreating(false);
      navigate(to(created));
    },
  });
  const form = { onSubmit: (body: object) => create.mutate(body), busy: create.isPending, error: create.error, onCancel: () => setCreating(false) };
  return { creating, setCreating, create, form };
}

/** A list's card: its title, an add button for those who may add, the list, and the dialog with
 * the create form. */
export function CreateListCard({ title, addText, canAdd, creating, setCreating, dialogTitle, dialogWidth, form, children }: {
  title: string;
  addText: string;
  canAdd: boolean;
  creating: boolean;
  setCreating: (creating: boolean) => void;
  dialogTitle: string;
  dialogWidth?: number;
  form: React.ReactNode;
  children: React.ReactNode;
}) {
  return (
    <Card title={title} extra={canAdd && <Button type="primary" onClick={() => setCreating(true)}>{addText}</Button>}>
      {children}
      <Modal open={creating} title={dialogTitle} footer={null} onCancel={() => setCreating(false)} destroyOnHidden width={dialogWidth}>
        {form}
      </Modal>
    </Card>
  );
}
