import { Navigate, Route, Routes as Switch, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./auth";
import { Shell } from "./Shell";
import { AcceptInvitation, SignIn, SignUp } from "./pages/Account";
import { AnalyticsPage } from "./pages/Analytics";
import { ApprovalDetail, Approvals } from "./pages/Approvals";
import { AppDetail, Apps } from "./pages/Apps";
import { FeatureDetail, Features } from "./pages/Features";
import { JsapiDetail, Jsapis } from "./pages/Jsapis";
import { LaunchDetail } from "./pages/Launches";
import { Members } from "./pages/Members";
import { MiniProgramDetail, MiniPrograms } from "./pages/MiniPrograms";
import { NotFound } from "./pages/NotFound";
import { IssueDetail, QualityPage } from "./pages/Quality";
import { SettingsPage } from "./pages/Settings";
import { WorkspaceHome, WorkspacePage, Workspaces } from "./pages/Workspaces";

function SignedIn({ children }: { children: React.ReactNode }) {
  const { signedIn } = useAuth();
  const location = useLocation();
  if (!signedIn) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

export function Routes() {
  return (
    <AuthProvider>
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
    </AuthProvider>
  );
}
