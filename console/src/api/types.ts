// The shapes of the public API's answers that the console reads (a subset of its OpenAPI).

export type Role = "admin" | "reviewer" | "developer";
export type Platform = "ios" | "android";

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  memberships: { workspace_id: string; role: Role; status: "active" | "blocked" }[];
}

export interface Workspace {
  id: string;
  name: string;
  kind: "tenant" | "developer";
  status: "active" | "pending_approval" | "rejected" | "deleted";
  role?: Role | null;
  parent_id?: string | null;
  business_type?: string | null;
  business_address?: string | null;
  contact_email?: string | null;
  created_at: string;
}

export interface DeveloperWorkspace {
  id: string;
  name: string;
  status: string;
  miniprogram_count: number;
}

export interface Member {
  account_id: string;
  email: string;
  name: string;
  role: Role;
  status: "active" | "blocked";
  joined_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  status: string;
  token?: string;
  expires_at: string;
  miniprogram_ids?: string[];
}

export interface MiniProgram {
  id: string;
  telemetry_id: number;
  name: string;
  description: string;
  status: string;
  developer_ids?: string[];
  created_at: string;
}

export interface Version {
  id: string;
  version: string;
  notes?: string;
  size: number;
  sha256: string;
  entry_page?: string;
  pages?: string[];
  status: string;
  uploaded_by: string;
  created_at: string;
}

export type LaunchStatus =
  | "created"
  | "under_review"
  | "pilot"
  | "ready"
  | "grayscale"
  | "released"
  | "rejected"
  | "canceled"
  | "archived"
  | "offline";

export interface Launch {
  id: string;
  version_id: string;
  app_id: string;
  status: LaunchStatus;
  percentage?: number | null;
  history: { status: string; at: string; by: string | null; percentage?: number | null }[];
  created_at?: string;
}

export interface Jsapi {
  id: string;
  name: string;
  description: string;
  platforms: Platform[];
  parameters?: Record<string, unknown> | null;
  created_at: string;
}

export interface Feature {
  id: string;
  name: string;
  description: string;
  activation: "direct" | "approval";
  visible_to_all: boolean;
  jsapi_ids: string[];
  revision: number;
  created_at: string;
}

export interface FeatureRevision {
  revision: number;
  changed_by: string;
  changed_at: string;
  changes: Record<string, { old: unknown; new: unknown }>;
}

export interface MiniProgramFeature {
  feature_id: string;
  status: "active" | "pending_approval" | string;
}

export interface App {
  id: string;
  name: string;
  platforms: Platform[];
  bundle_id: string;
  created_at: string;
}

export interface AppKey {
  id: string;
  key_id: string;
  label?: string | null;
  secret?: string;
  status?: string;
  created_at: string;
  expires_at?: string | null;
}

export interface ApiKey {
  id: string;
  label: string;
  role: Role;
  token?: string;
  created_at: string;
}

export interface Settings {
  logo_url: string | null;
  favicon_url: string | null;
  service_email: {
    sender: string | null;
    smtp_host: string | null;
    smtp_port: number | null;
    smtp_username: string | null;
    smtp_password?: string;
  } | null;
  domains: { primary: string | null; alternatives: string[] } | null;
  tester_whitelist_enabled: boolean;
  about_us_url: string | null;
  terms_of_service_url: string | null;
}

export type ApprovalStatus = "pending" | "approved" | "rejected" | "withdrawn";

export interface Approval {
  id: string;
  type: "launch" | "online" | "offline" | "developer_workspace" | "feature" | "miniprogram_change";
  status: ApprovalStatus;
  title: string;
  subject: { kind: string; id: string };
  applicant_id: string;
  created_at: string;
  decided_at: string | null;
  decided_by: string | null;
  comment: string | null;
  /** every step, oldest first: opened, approved, rejected, withdrawn; only in an approval's detail */
  trail?: { action: string; by: string; at: string; comment: string | null }[];
}

export interface DailyActivity {
  date: string;
  active_users: number;
  new_users: number;
  sessions: number;
  page_views: number;
  avg_session_duration_ms: number;
}

export interface Overview {
  series: DailyActivity[];
  totals: Partial<Omit<DailyActivity, "date">>;
}

export interface PageRank {
  page: string;
  views: number;
  visitors: number;
  avg_duration_ms: number;
}

export interface Cohort {
  cohort_date: string;
  users: number;
  retained: number[];
}

export interface TrackedEvent {
  name: string;
  count: number;
  users: number;
}

export interface Issue {
  id: string;
  title: string;
  culprit: string;
  level: string;
  status: "unresolved" | "resolved" | "ignored";
  count: number;
  users: number;
  first_seen: string;
  last_seen: string;
  versions: string[];
  regressed?: boolean;
  latest_event?: Record<string, unknown>;
}

export interface QualitySummary {
  crash_free_users: number | null;
  crash_free_sessions: number | null;
  error_count: number;
  by_version: Record<string, unknown>[];
}

export interface StartupTimes {
  by_day?: { date: string; p50: number; p90: number; p99: number }[];
  by_version?: { version: string; p50: number; p90: number; p99: number }[];
  items?: { date?: string; version?: string; p50: number; p90: number; p99: number }[];
}
