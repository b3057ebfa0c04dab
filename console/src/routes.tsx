import { ApiOutlined, AppstoreOutlined, AuditOutlined, BarChartOutlined, BugOutlined, HistoryOutlined, HomeOutlined, MobileOutlined, SendOutlined, SettingOutlined, TeamOutlined, ToolOutlined } from "@ant-design/icons";
import { lazy, Suspense, type ComponentType, type ReactElement } from "react";
import { Navigate, useLocation, useRoutes, type RouteObject } from "react-router-dom";
import type { Role } from "./api/types";
import { AuthProvider, useAuth } from "./auth";
import { AcceptInvitation, ForgotPassword, ResetPassword, SignIn, SignUp, VerifyEmail } from "./pages/Account";
import { Security } from "./pages/Security";
import { can, type Permission } from "./workspace";

/** A page fetched the first time it is shown, so that the sign-in page does not wait for the whole console. */
function lazyPage<Name extends string, Module extends Record<Name, ComponentType>>(load: () => Promise<Module>, name: Name) {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}

const Shell = lazyPage(() => import("./Shell"), "Shell");
const AnalyticsPage = lazyPage(() => import("./pages/Analytics"), "AnalyticsPage");
const Approvals = lazyPage(() => import("./pages/Approvals"), "Approvals");
const ApprovalDetail = lazyPage(() => import("./pages/Approvals"), "ApprovalDetail");
const Apps = lazyPage(() => import("./pages/Apps"), "Apps");
const AuditLog = lazyPage(() => import("./pages/AuditLog"), "AuditLog");
const AppDetail = lazyPage(() => import("./pages/Apps"), "AppDetail");
const Features = lazyPage(() => import("./pages/Features"), "Features");
const FeatureDetail = lazyPage(() => import("./pages/Features"), "FeatureDetail");
const Jsapis = lazyPage(() => import("./pages/Jsapis"), "Jsapis");
const JsapiDetail = lazyPage(() => import("./pages/Jsapis"), "JsapiDetail");
const LaunchDetail = lazyPage(() => import("./pages/Launches"), "LaunchDetail");
const Members = lazyPage(() => import("./pages/Members"), "Members");
const MiniPrograms = lazyPage(() => import("./pages/MiniPrograms"), "MiniPrograms");
const MiniProgramDetail = lazyPage(() => import("./pages/MiniPrograms"), "MiniProgramDetail");
const NotFound = lazyPage(() => import("./pages/NotFound"), "NotFound");
const QualityPage = lazyPage(() => import("./pages/Quality"), "QualityPage");
const IssueDetail = lazyPage(() => import("./pages/Quality"), "IssueDetail");
const SettingsPage = lazyPage(() => import("./pages/Settings"), "SettingsPage");
const Workspaces = lazyPage(() => import("./pages/Workspaces"), "Workspaces");
const WorkspaceHome = lazyPage(() => import("./pages/Workspaces"), "WorkspaceHome");
const WorkspacePage = lazyPage(() => import("./pages/Workspaces"), "WorkspacePage");
const Webhooks = lazyPage(() => import("./pages/Webhooks"), "Webhooks");

export interface ConsoleRoute {
  path: string;
  element: ReactElement;
  /** Shown to anyone, without the console's header and menu; every other page asks to sign in first. */
  public?: true;
  /** Its entry in a workspace's side menu, which lists the entries in the order of `routes`. */
  menu?: { label: string; icon: ReactElement };
  /** What a member's role must allow for the menu to offer the page (the page itself tells anyone else what they may not do). */
  requires?: Permission;
}

/** Every page of the console: the router and the side menu are both built from this list. */
export const routes: ConsoleRoute[] = [
  { path: "/sign-in", element: <SignIn />, public: true },
  { path: "/sign-up", element: <SignUp />, public: true },
  { path: "/verify-email", element: <VerifyEmail />, public: true },
  { path: "/forgot-password", element: <ForgotPassword />, public: true },
  { path: "/reset-password", element: <ResetPassword />, public: true },
  { path: "/security", element: <Security /> },
  { path: "/", element: <Workspaces /> },
  { path: "/workspaces", element: <Workspaces /> },
  { path: "/invitations/:token", element: <AcceptInvitation />, public: true },
  { path: "/workspaces/:ws", element: <WorkspaceHome /> },
  { path: "/workspaces/:ws/miniprograms", element: <MiniPrograms />, menu: { label: "Mini programs", icon: <AppstoreOutlined /> } },
  { path: "/workspaces/:ws/miniprograms/:mp", element: <MiniProgramDetail /> },
  { path: "/workspaces/:ws/miniprograms/:mp/:tab", element: <MiniProgramDetail /> },
  { path: "/workspaces/:ws/miniprograms/:mp/launches/:launch", element: <LaunchDetail /> },
  { path: "/workspaces/:ws/jsapis", element: <Jsapis />, menu: { label: "JSAPIs", icon: <ApiOutlined /> } },
  { path: "/workspaces/:ws/jsapis/:id", element: <JsapiDetail /> },
  { path: "/workspaces/:ws/features", element: <Features />, menu: { label: "Features", icon: <ToolOutlined /> } },
  { path: "/workspaces/:ws/features/:id", element: <FeatureDetail /> },
  { path: "/workspaces/:ws/analytics", element: <AnalyticsPage />, menu: { label: "Analytics", icon: <BarChartOutlined /> } },
  { path: "/workspaces/:ws/quality", element: <QualityPage />, menu: { label: "Quality", icon: <BugOutlined /> } },
  { path: "/workspaces/:ws/quality/:issue", element: <IssueDetail /> },
  { path: "/workspaces/:ws/approvals", element: <Approvals />, menu: { label: "Approvals", icon: <AuditOutlined /> } },
  { path: "/workspaces/:ws/approvals/:id", element: <ApprovalDetail /> },
  { path: "/workspaces/:ws/apps", element: <Apps />, menu: { label: "Apps", icon: <MobileOutlined /> } },
  { path: "/workspaces/:ws/apps/:app", element: <AppDetail /> },
  { path: "/workspaces/:ws/members", element: <Members />, menu: { label: "Members", icon: <TeamOutlined /> } },
  { path: "/workspaces/:ws/workspace", element: <WorkspacePage />, menu: { label: "Workspace", icon: <HomeOutlined /> } },
  { path: "/workspaces/:ws/settings", element: <SettingsPage />, menu: { label: "Settings", icon: <SettingOutlined /> }, requires: "administer" },
  { path: "/workspaces/:ws/webhooks", element: <Webhooks />, menu: { label: "Webhooks", icon: <SendOutlined /> }, requires: "administer" },
  { path: "/workspaces/:ws/audit-log", element: <AuditLog />, menu: { label: "Audit log", icon: <HistoryOutlined /> }, requires: "administer" },
  { path: "*", element: <NotFound /> },
];

export interface MenuEntry {
  /** The route's path, which the menu entry leads to within the workspace shown. */
  path: string;
  label: string;
  icon: ReactElement;
}

/** A workspace's side menu for a member of `role` (none while it is not known yet). */
export function menuFor(role: Role | undefined): MenuEntry[] {
  return routes.flatMap(({ path, menu, requires }) => (menu && (!requires || can[requires](role)) ? [{ path, ...menu }] : []));
}

function SignedIn({ children }: { children: React.ReactNode }) {
  const { signedIn, settled } = useAuth();
  const location = useLocation();
  // a new tab may be handed the sign-in of an open one in a moment
  if (!signedIn && !settled) return null;
  if (!signedIn) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

/** `routes` as the router takes them: the public pages as they are, every other page in the shell, once signed in. */
export const routeTree: RouteObject[] = [
  ...routes.filter((route) => route.public).map(({ path, element }) => ({ path, element })),
  {
    element: (
      <SignedIn>
        <Shell />
      </SignedIn>
    ),
    children: routes.filter((route) => !route.public).map(({ path, element }) => ({ path, element })),
  },
];

function Pages() {
  return useRoutes(routeTree);
}

export function Routes() {
  return (
    <AuthProvider>
      <Suspense>
        <Pages />
      </Suspense>
    </AuthProvider>
  );
}
