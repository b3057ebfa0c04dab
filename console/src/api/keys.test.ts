import { QueryClient, type QueryKey } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { keys } from "./keys";
import { wholeLists } from "./queries";

/** Of the `cached` answers, those that invalidating `key` marks for fetching again. */
function invalidatedBy(key: QueryKey, cached: QueryKey[]): QueryKey[] {
  const client = new QueryClient();
  for (const each of cached) client.setQueryData(each, { items: [] });
  void client.invalidateQueries({ queryKey: key, refetchType: "none" });
  return cached.filter((each) => client.getQueryState(each)?.isInvalidated);
}

/** What a list's table and pickers cache: two pages of the table (another filter, a later cursor) and the whole list. */
const cachedOf = (list: QueryKey, all: QueryKey) => [keys.page(list, {}, null, 20), keys.page(list, { status: "pending", mine: "true" }, "next-page", 20), all];

const lists = {
  members: [keys.members("ws1"), keys.members.all("ws1"), keys.members("ws2"), keys.members.all("ws2")],
  miniprograms: [keys.miniprograms("ws1"), keys.miniprograms.all("ws1"), keys.miniprograms("ws2"), keys.miniprograms.all("ws2")],
  apps: [keys.apps("ws1"), keys.apps.all("ws1"), keys.apps("ws2"), keys.apps.all("ws2")],
  jsapis: [keys.jsapis("ws1"), keys.jsapis.all("ws1"), keys.jsapis("ws2"), keys.jsapis.all("ws2")],
  features: [keys.features("ws1"), keys.features.all("ws1"), keys.features("ws2"), keys.features.all("ws2")],
  versions: [keys.versions("ws1", "mp1"), keys.versions.all("ws1", "mp1"), keys.versions("ws1", "mp2"), keys.versions.all("ws1", "mp2")],
  launches: [keys.launches("ws1", "mp1"), keys.launches.all("ws1", "mp1"), keys.launches("ws1", "mp2"), keys.launches.all("ws1", "mp2")],
};

describe("the query keys", () => {
  it.each(Object.entries(lists))("of the %s list: its key refreshes every page of its table and the whole list, and not another's", (_, [list, all, otherList, otherAll]) => {
    const ours = cachedOf(list, all);
    expect(invalidatedBy(list, [...ours, ...cachedOf(otherList, otherAll)])).toEqual(ours);
  });

  it("keep a list's items apart from the list: saving one item refreshes that item alone", () => {
    const cached = [keys.page(keys.launches("ws1", "mp1"), {}, null, 20), keys.launch("ws1", "mp1", "l1"), keys.launch("ws1", "mp1", "l2")];
    expect(invalidatedBy(keys.launch("ws1", "mp1", "l1"), cached)).toEqual([keys.launch("ws1", "mp1", "l1")]);
    expect(invalidatedBy(keys.launches("ws1", "mp1"), cached)).toEqual([cached[0]]);
    expect(invalidatedBy(keys.workspaces(), [keys.workspaces(), keys.workspace("ws1")])).toEqual([keys.workspaces()]);
    expect(invalidatedBy(keys.miniprograms("ws1"), [keys.miniprogram("ws1", "mp1"), keys.miniprogramFeatures("ws1", "mp1")])).toEqual([]);
  });

  it("put each whole list that pickers read under the key its list's changes invalidate", () => {
    const read: [QueryKey, QueryKey][] = [
      [wholeLists.workspaces().queryKey, keys.workspaces()],
      [wholeLists.members("ws1").queryKey, keys.members("ws1")],
      [wholeLists.miniprograms("ws1").queryKey, keys.miniprograms("ws1")],
      [wholeLists.versions("ws1", "mp1").queryKey, keys.versions("ws1", "mp1")],
      [wholeLists.apps("ws1").queryKey, keys.apps("ws1")],
      [wholeLists.jsapis("ws1").queryKey, keys.jsapis("ws1")],
      [wholeLists.features("ws1").queryKey, keys.features("ws1")],
    ];
    for (const [whole, list] of read) expect(invalidatedBy(list, [whole])).toEqual([whole]);
  });

  it("keep an event's daily counts under the events report of the same scope only", () => {
    const scope = { miniprogram_id: "mp1", from: "2026-11-01", to: "2026-11-14" };
    const cached = [keys.eventCounts("ws1", scope, "order"), keys.eventCounts("ws1", { ...scope, from: "2026-10-01" }, "order"), keys.analytics("ws1", "pages", scope)];
    expect(invalidatedBy(keys.analytics("ws1", "events", scope), cached)).toEqual([cached[0]]);
  });
});
