// The public API's shapes, by the names the pages use. Each is a schema of the platform's OpenAPI
// document (docs/openapi.json), which `npm run api-types` turns into schema.ts: write none by hand.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Role = Schemas["Member"]["role"];

export type Me = Schemas["Me"];
export type Session = Schemas["Session"];
export type TotpSetup = Schemas["TotpSetup"];
export type RecoveryCodes = Schemas["RecoveryCodes"];
export type Workspace = Schemas["Workspace"];
export type WorkspacePending = Schemas["WorkspacePending"];
export type DeveloperWorkspace = Schemas["DeveloperWorkspace"];
export type Member = Schemas["Member"];
export type Invitation = Schemas["Invitation"];
export type InvitationCreated = Schemas["InvitationCreated"];
export type Accepted = Schemas["Accepted"];
export type Deliverables = Schemas["Deliverables"];
export type InvitationPreview = Schemas["InvitationPreview"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type AuditLogEntry = Schemas["AuditLogEntry"];
export type Settings = Schemas["Settings"];
export type Webhook = Schemas["Webhook"];
export type WebhookCreated = Schemas["WebhookCreated"];
export type WebhookEvent = Webhook["events"][number];
export type WebhookDelivery = Schemas["WebhookDelivery"];
export type WebhookAttempt = Schemas["WebhookAttempt"];
export type NotificationChoices = Schemas["NotificationChoicesAnswer"];
export type SettingsPut = Schemas["SettingsPut"];

export type App = Schemas["App"];
export type AppKey = Schemas["AppKey"];
export type AppKeyCreated = Schemas["AppKeyCreated"];
export type AppKeyRotated = Schemas["AppKeyRotated"];
export type Jsapi = Schemas["Jsapi"];
export type Feature = Schemas["Feature"];
export type FeatureRevision = Schemas["FeatureRevision"];
export type MiniProgram = Schemas["MiniProgram"];
export type MiniProgramFeature = Schemas["MiniProgramFeature"];
export type Version = Schemas["Version"];
export type VersionChanges = Schemas["VersionChanges"];
export type Dsn = Schemas["Dsn"];
export type Testers = Schemas["Testers"];

export type Launch = Schemas["Launch"];
export type LaunchStatus = Launch["status"];
export type Rollout = Schemas["Rollout"];
export type RolloutPlan = Schemas["RolloutPlan"];
export type LaunchHealth = Schemas["LaunchHealth"];
export type LaunchFigures = Schemas["LaunchFigures"];
export type Approval = Schemas["Approval"];
/** the ApprovalDetail schema, by another name than the page that shows it */
export type ApprovalWithTrail = Schemas["ApprovalDetail"];
export type ApprovalStatus = Approval["status"];

export type Overview = Schemas["Overview"];
export type PageRank = Schemas["PageStats"];
export type PageRanking = Schemas["PageStatsPage"];
export type Cohort = Schemas["Cohort"];
export type TrackedEvent = Schemas["TrackedEvent"];
export type TrackedEvents = Schemas["TrackedEventPage"];
export type Issue = Schemas["Issue"];
/** the IssueDetail schema, by another name than the page that shows it */
export type IssueWithEvent = Schemas["IssueDetail"];
export type QualitySummary = Schemas["Summary"];
export type StartupTimes = Schemas["Startup"];
export type AlertRule = Schemas["AlertRule"];
export type AlertKind = AlertRule["kind"];

// Console-side, not an API shape of its own: one page of any list. Every `…Page` schema of the
// document is this shape with its own items; the list components are written once for all.
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
