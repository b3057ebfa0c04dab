import { useQuery } from "@tanstack/react-query";
import { DatePicker, Select, Space } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { wholeLists } from "../api/queries";
import { releaseMarkers, type Marker } from "./Charts";
import { useUrlState } from "./urlState";

export interface Scope {
  miniprogram_id?: string;
  from: string;
  to: string;
}

/** The mini program and date range that the analytics and quality reports look at (last 14 days by default). */
export function useScope(ws: string) {
  const miniprograms = useQuery(wholeLists.miniprograms(ws));
  // the mini program chosen stays chosen from page to page (and in the URL, for a shared link)
  const remembered = `mpdp.miniprogram.${ws}`;
  const [chosen, choose] = useUrlState("miniprogram", localStorage.getItem(remembered) ?? "");
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(13, "day"), dayjs()]);
  const items = miniprograms.data?.items ?? [];
  const miniprogram_id = items.some((item) => item.id === chosen) ? chosen : items[0]?.id;
  const setChosen = (id: string) => {
    localStorage.setItem(remembered, id);
    choose(id);
  };
  const scope: Scope = { miniprogram_id, from: range[0].format("YYYY-MM-DD"), to: range[1].format("YYYY-MM-DD") };
  const picker = (
    <Space>
      <Select
        aria-label="Mini program"
        style={{ width: 220 }}
        value={miniprogram_id}
        onChange={setChosen}
        placeholder="No mini programs yet"
        options={items.map((item) => ({ value: item.id, label: item.name }))}
      />
      <DatePicker.RangePicker allowClear={false} value={range} onChange={(value) => value && value[0] && value[1] && setRange([value[0], value[1]])} />
    </Space>
  );
  return { scope, picker, loading: miniprograms.isLoading, none: !miniprograms.isLoading && items.length === 0, error: miniprograms.error };
}

/** The releases of the scope's mini program, for its charts: a dashed line on each day one reached users. */
export function useReleaseMarkers(ws: string, scope: Scope): Marker[] {
  const launches = useQuery({ ...wholeLists.launches(ws, scope.miniprogram_id ?? ""), enabled: !!scope.miniprogram_id });
  const apps = useQuery(wholeLists.apps(ws));
  const names = new Map((apps.data?.items ?? []).map((app) => [app.id, app.name]));
  return releaseMarkers(launches.data?.items ?? [], (id) => names.get(id) ?? id);
}
