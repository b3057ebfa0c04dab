import { type Query, queryOptions } from "@tanstack/react-query";
import { api } from "./client";
import { keys } from "./keys";
import { paths } from "./paths";
import type { App, Feature, Jsapi, Launch, Member, MiniProgram, Page, Version, Workspace } from "./types";

const whole = <T>(path: string) => api.get<Page<T>>(path, { limit: 200 });

/** The whole lists (up to 200 items) that several pages read for names and choices. One
 * definition of each, so that every reader of a key shares one cached answer, fresh for as long. */
export const wholeLists = {
  workspaces: () => queryOptions({ queryKey: keys.workspaces(), queryFn: () => whole<Workspace>(paths.workspaces()) }),
  // read for names on most pages; every change of a member invalidates it
  members: (ws: string) => queryOptions({ queryKey: keys.members.all(ws), queryFn: () => whole<Member>(paths.members(ws)), staleTime: 60_000 }),
  miniprograms: (ws: string) => queryOptions({ queryKey: keys.miniprograms.all(ws), queryFn: () => whole<MiniProgram>(paths.miniprograms(ws)) }),
  versions: (ws: string, mp: string) => queryOptions({ queryKey: keys.versions.all(ws, mp), queryFn: () => whole<Version>(paths.versions(ws, mp)) }),
  launches: (ws: string, mp: string) => queryOptions({ queryKey: keys.launches.all(ws, mp), queryFn: () => whole<Launch>(paths.launches(ws, mp)) }),
  apps: (ws: string) => queryOptions({ queryKey: keys.apps.all(ws), queryFn: () => whole<App>(paths.apps(ws)) }),
  jsapis: (ws: string) => queryOptions({ queryKey: keys.jsapis.all(ws), queryFn: () => whole<Jsapi>(paths.jsapis(ws)) }),
  features: (ws: string) => queryOptions({ queryKey: keys.features.all(ws), queryFn: () => whole<Feature>(paths.features(ws)) }),
};

/** How often a page asks again about something the platform may change without the person
 * looking at it (an approval decided elsewhere, a rollout's step, a guard's halt). */
export const LIVE_INTERVAL_MS = 3000;

/** A `refetchInterval` that polls while `changing` says the data may still change, and stops
 * when it may not; TanStack Query pauses it while the tab is hidden. */
export function whileChanging<T>(changing: (data: T) => boolean) {
  return (query: Query<T, Error, T, readonly unknown[]>) => (query.state.data !== undefined && changing(query.state.data) ? LIVE_INTERVAL_MS : false);
}
