import { lazy, Suspense, type ComponentType } from "react";
import { Navigate, Route, Routes as Switch, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth";
import { AcceptInvitation, SignIn, SignUp } from "./pages/Account";

/** A page fetched the first time it is shown, so that the sign-in page does not wait for the whole console. */
function lazyPage<Name extends string, Module extends Record<Name, ComponentType>>(load: () => Promise<Module>, name: Name) {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}

const Shell = lazyPage(() => import("./Shell"), "Shell");
const AnalyticsPage = lazyPage(() => import("./pages/Analytics"), "AnalyticsPage");
const Approvals = lazyPage(() => import("./pages/Approvals"), "Approvals");
const ApprovalDetail = lazyPage(() => import("./pages/Approvals"), "ApprovalDetail");
const Apps = lazyPage(() => import("./pages/Apps"), "Apps");
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

function SignedIn({ children }: { children: React.ReactNode }) {
  const { signedIn } = useAuth();
  const location = useLocation();
  if (!signedIn) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

export function Routes() {
  return (
    <AuthProvider>
      <Suspense>
        <Switch>
          <Route path="/sign-in" element={<SignIn />} />
          <Route path="/sign-up" element={<SignUp />} />
          <Route
            element={
              <SignedIn>
                <Shell />
              </SignedIn>
            }
          >
            <Route path="/" element={<Workspaces />} />
            <Route path="/workspaces" element={<Workspaces />} />
            <Route path="/invitations/:token" element={<AcceptInvitation />} />
            <Route path="/workspaces/:ws" element={<WorkspaceHome />} />
            <Route path="/workspaces/:ws/miniprograms" element={<MiniPrograms />} />
            <Route path="/workspaces/:ws/miniprograms/:mp" element={<MiniProgramDetail />} />
            <Route path="/workspaces/:ws/miniprograms/:mp/:tab" element={<MiniProgramDetail />} />
            <Route path="/workspaces/:ws/miniprograms/:mp/launches/:launch" element={<LaunchDetail />} />
            <Route path="/workspaces/:ws/jsapis" element={<Jsapis />} />
            <Route path="/workspaces/:ws/jsapis/:id" element={<JsapiDetail />} />
            <Route path="/workspaces/:ws/features" element={<Features />} />
            <Route path="/workspaces/:ws/features/:id" element={<FeatureDetail />} />
            <Route path="/workspaces/:ws/analytics" element={<AnalyticsPage />} />
            <Route path="/workspaces/:ws/quality" element={<QualityPage />} />
            <Route path="/workspaces/:ws/quality/:issue" element={<IssueDetail />} />
            <Route path="/workspaces/:ws/approvals" element={<Approvals />} />
            <Route path="/workspaces/:ws/approvals/:id" element={<ApprovalDetail />} />
            <Route path="/workspaces/:ws/members" element={<Members />} />
            <Route path="/workspaces/:ws/apps" element={<Apps />} />
            <Route path="/workspaces/:ws/apps/:app" element={<AppDetail />} />
            <Route path="/workspaces/:ws/workspace" element={<WorkspacePage />} />
            <Route path="/workspaces/:ws/settings" element={<SettingsPage />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Switch>
      </Suspense>
    </AuthProvider>
  );
}
