// Every key the console caches an answer under, in one place. TanStack Query invalidates by
// prefix: invalidating a list's key, such as keys.launches(ws, mp), refreshes every page of its
// table (keys.page) and its whole-list read (.all), and nothing of another workspace or list.

import type { QueryKey } from "@tanstack/react-query";

/** The key of a list: the prefix of its table's pages and of `.all`, the whole list that pickers and names read. */
function list<Args extends string[]>(name: string) {
  const key = (...args: Args) => [name, ...args] as const;
  return Object.assign(key, { all: (...args: Args) => [...key(...args), "all"] as const });
}

const analytics = (ws: string, report: "overview" | "pages" | "retention" | "events", scope: object) => ["analytics", ws, report, scope] as const;

export const keys = {
  me: () => ["me"] as const,
  /** Every workspace of the caller, read whole. */
  workspaces: () => ["workspaces"] as const,
  workspace: (ws: string) => ["workspace", ws] as const,
  settings: (ws: string) => ["settings", ws] as const,
  apiKeys: list<[ws: string]>("api-keys"),
  auditLog: list<[ws: string]>("audit-log"),
  webhooks: list<[ws: string]>("webhooks"),
  webhook: (ws: string, id: string) => ["webhook", ws, id] as const,
  webhookDeliveries: list<[ws: string, webhook: string]>("webhook-deliveries"),
  notifications: (ws: string) => ["notifications", ws] as const,
  developerWorkspaces: list<[ws: string]>("developer-workspaces"),
  members: list<[ws: string]>("members"),
  invitations: list<[ws: string]>("invitations"),
  apps: list<[ws: string]>("apps"),
  app: (ws: string, app: string) => ["app", ws, app] as const,
  appKeys: (ws: string, app: string) => ["app-keys", ws, app] as const,
  miniprograms: list<[ws: string]>("miniprograms"),
  miniprogram: (ws: string, mp: string) => ["miniprogram", ws, mp] as const,
  versions: list<[ws: string, mp: string]>("versions"),
  testers: (ws: string, mp: string) => ["testers", ws, mp] as const,
  miniprogramFeatures: list<[ws: string, mp: string]>("mp-features"),
  dsn: (ws: string, mp: string, app: string | undefined) => ["dsn", ws, mp, app] as const,
  launches: list<[ws: string, mp: string]>("launches"),
  launch: (ws: string, mp: string, id: string) => ["launch", ws, mp, id] as const,
  /** Under the launch's key: refreshing the launch refreshes its health too. */
  launchHealth: (ws: string, mp: string, id: string) => ["launch", ws, mp, id, "health"] as const,
  jsapis: list<[ws: string]>("jsapis"),
  jsapi: (ws: string, id: string) => ["jsapi", ws, id] as const,
  features: list<[ws: string]>("features"),
  feature: (ws: string, id: string) => ["feature", ws, id] as const,
  featureHistory: (ws: string, id: string) => ["feature-history", ws, id] as const,
  approvals: list<[ws: string]>("approvals"),
  approval: (ws: string, id: string) => ["approval", ws, id] as const,
  issues: list<[ws: string]>("issues"),
  issue: (ws: string, id: string) => ["issue", ws, id] as const,
  alertRules: list<[ws: string, mp: string]>("alert-rules"),
  analytics,
  /** One event's daily counts, under the events report of the same scope. */
  eventCounts: (ws: string, scope: object, name: string | undefined) => [...analytics(ws, "events", scope), name] as const,
  quality: (ws: string, report: "summary" | "startup", scope: object) => ["quality", ws, report, scope] as const,
  /** One page of a list's table: another filter, cursor or size is another page of the same list. */
  page: (list: QueryKey, query: object, cursor: string | null, size: number) => [...list, query, cursor, size] as const,
};
