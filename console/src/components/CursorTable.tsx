import { type QueryKey, useQuery } from "@tanstack/react-query";
import { Button, Empty, Space, Table, type TableProps } from "antd";
import { useState, type ReactNode } from "react";
import { api, type Query } from "../api/client";
import { keys } from "../api/keys";
import { LIVE_INTERVAL_MS } from "../api/queries";
import type { Page } from "../api/types";
import { ProblemAlert } from "./Problem";

interface Props<T> extends Omit<TableProps<T>, "dataSource" | "pagination"> {
  path: string;
  query?: Query;
  pageSize?: number;
  /** What to do next when the list is empty. */
  empty: ReactNode;
  /** The list's key from `keys`: its pages are cached under it, so invalidating it refreshes them all. */
  listKey: QueryKey;
  /** Whether the page shown may still change by itself (a delivery being retried): asked again while it may. */
  live?: (page: Page<T>) => boolean;
}

/** A table over one of the API's cursor-paged lists, a page at a time, with previous and next. */
export function CursorTable<T extends object>({ path, query, pageSize = 20, empty, listKey, live, ...table }: Props<T>) {
  // Another filter or order is another list: its pages start again, and the old cursors would be refused.
  const list = JSON.stringify(query ?? {});
  const [paging, setPaging] = useState<{ list: string; cursors: (string | null)[] }>({ list, cursors: [null] });
  const cursors = paging.list === list ? paging.cursors : [null];
  const setCursors = (next: (string | null)[]) => setPaging({ list, cursors: next });
  const cursor = cursors[cursors.length - 1];
  const page = useQuery({
    queryKey: keys.page(listKey, query ?? {}, cursor, pageSize),
    queryFn: () => api.get<Page<T>>(path, { ...query, limit: pageSize, cursor }),
    placeholderData: (previous) => previous,
    refetchInterval: live ? (query) => (query.state.data && live(query.state.data) ? LIVE_INTERVAL_MS : false) : undefined,
  });
  if (page.error) return <ProblemAlert error={page.error} />;
  const next = page.data?.next_cursor ?? null;
  return (
    <>
      <Table<T>
        rowKey={(row) => String((row as { id?: string }).id ?? (row as { account_id?: string }).account_id ?? JSON.stringify(row))}
        // a live page asked again in the background does not blink
        loading={live ? page.isLoading || page.isPlaceholderData : page.isFetching}
        dataSource={page.data?.items ?? []}
        pagination={false}
        locale={{ emptyText: page.isLoading ? " " : <Empty description={empty} /> }}
        {...table}
      />
      {(cursors.length > 1 || next) && (
        <Space style={{ marginTop: 12, display: "flex", justifyContent: "flex-end" }}>
          <span>Page {cursors.length}</span>
          <Button disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </Button>
          <Button disabled={!next} onClick={() => setCursors([...cursors, next])}>
            Next
          </Button>
        </Space>
      )}
    </>
  );
}
