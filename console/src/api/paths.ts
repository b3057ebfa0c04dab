// Every API path the console calls, in one place: the browser tests check each against the
// gateway's merged OpenAPI, so a renamed endpoint fails a test rather than a page.

const e = encodeURIComponent;

export const paths = {
  accounts: () => `/api/v1/accounts`,
  me: () => `/api/v1/me`,
  acceptInvitation: (token: string) => `/api/v1/invitations/${e(token)}/accept`,
  workspaces: () => `/api/v1/workspaces`,
  workspace: (ws: string) => `/api/v1/workspaces/${e(ws)}`,
  developerWorkspaces: (ws: string) => `/api/v1/workspaces/${e(ws)}/developer-workspaces`,
  developerWorkspace: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/developer-workspaces/${e(id)}`,
  settings: (ws: string) => `/api/v1/workspaces/${e(ws)}/settings`,
  settingsUpload: (ws: string, kind: "logo" | "favicon") => `/api/v1/workspaces/${e(ws)}/settings/${kind}`,
  members: (ws: string) => `/api/v1/workspaces/${e(ws)}/members`,
  member: (ws: string, account: string) => `/api/v1/workspaces/${e(ws)}/members/${e(account)}`,
  memberAction: (ws: string, account: string, action: "block" | "unblock") => `/api/v1/workspaces/${e(ws)}/members/${e(account)}/${action}`,
  invitations: (ws: string) => `/api/v1/workspaces/${e(ws)}/invitations`,
  invitation: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/invitations/${e(id)}`,
  apps: (ws: string) => `/api/v1/workspaces/${e(ws)}/apps`,
  app: (ws: string, app: string) => `/api/v1/workspaces/${e(ws)}/apps/${e(app)}`,
  appKeys: (ws: string, app: string) => `/api/v1/workspaces/${e(ws)}/apps/${e(app)}/keys`,
  appKey: (ws: string, app: string, key: string) => `/api/v1/workspaces/${e(ws)}/apps/${e(app)}/keys/${e(key)}`,
  appKeyRotate: (ws: string, app: string, key: string) => `/api/v1/workspaces/${e(ws)}/apps/${e(app)}/keys/${e(key)}/rotate`,
  apiKeys: (ws: string) => `/api/v1/workspaces/${e(ws)}/api-keys`,
  apiKey: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/api-keys/${e(id)}`,
  miniprograms: (ws: string) => `/api/v1/workspaces/${e(ws)}/miniprograms`,
  miniprogram: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}`,
  developers: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/developers`,
  testers: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/testers`,
  versions: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/versions`,
  versionPackage: (ws: string, mp: string, id: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/versions/${e(id)}/package`,
  miniprogramFeatures: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/features`,
  jsapis: (ws: string) => `/api/v1/workspaces/${e(ws)}/jsapis`,
  jsapi: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/jsapis/${e(id)}`,
  features: (ws: string) => `/api/v1/workspaces/${e(ws)}/features`,
  feature: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/features/${e(id)}`,
  featureHistory: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/features/${e(id)}/history`,
  // served by the approval service
  launches: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches`,
  launch: (ws: string, mp: string, id: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches/${e(id)}`,
  launchAction: (ws: string, mp: string, id: string, action: "submit" | "withdraw" | "publish" | "cancel") =>
    `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches/${e(id)}/${action}`,
  rollout: (ws: string, mp: string, id: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches/${e(id)}/rollout`,
  rolloutAction: (ws: string, mp: string, id: string, action: "pause" | "resume") =>
    `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches/${e(id)}/${action}`,
  miniprogramAction: (ws: string, mp: string, action: "offline" | "online" | "rollback") =>
    `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/${action}`,
  approvals: (ws: string) => `/api/v1/workspaces/${e(ws)}/approvals`,
  approval: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/approvals/${e(id)}`,
  approvalAction: (ws: string, id: string, action: "approve" | "reject" | "withdraw") => `/api/v1/workspaces/${e(ws)}/approvals/${e(id)}/${action}`,
  // served by the telemetry service
  launchHealth: (ws: string, mp: string, id: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/launches/${e(id)}/health`,
  dsn: (ws: string, mp: string) => `/api/v1/workspaces/${e(ws)}/miniprograms/${e(mp)}/dsn`,
  analytics: (ws: string, report: "overview" | "pages" | "retention" | "events") => `/api/v1/workspaces/${e(ws)}/analytics/${report}`,
  quality: (ws: string, report: "issues" | "summary" | "startup") => `/api/v1/workspaces/${e(ws)}/quality/${report}`,
  qualityIssue: (ws: string, id: string) => `/api/v1/workspaces/${e(ws)}/quality/issues/${e(id)}`,
};
