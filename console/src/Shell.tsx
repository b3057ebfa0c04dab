import {
  ApiOutlined,
  AppstoreOutlined,
  AuditOutlined,
  BarChartOutlined,
  BugOutlined,
  LogoutOutlined,
  MobileOutlined,
  SettingOutlined,
  TeamOutlined,
  ToolOutlined,
  HomeOutlined,
} from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Layout, Menu, Select, Space, Tag, Typography, Button, Card } from "antd";
import { Suspense, useEffect } from "react";
import { Outlet, useLocation, useNavigate, useParams } from "react-router-dom";
import { wholeLists } from "./api/queries";
import { useAuth } from "./auth";
import { can, ROLE_LABELS } from "./workspace";

export function Shell() {
  const { ws } = useParams();
  const { me, signOut, roleIn, reloadMe } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const workspaces = useQuery(wholeLists.workspaces());
  const role = ws ? roleIn(ws) : undefined;
  // A workspace just created, joined or approved is known to identity a moment later.
  useEffect(() => {
    if (!ws || !me || role) return;
    const timer = setInterval(reloadMe, 1500);
    return () => clearInterval(timer);
  }, [ws, me, role, reloadMe]);
  const section = location.pathname.split("/")[3] ?? "";
  const items = ws
    ? [
        { key: "miniprograms", icon: <AppstoreOutlined />, label: "Mini programs" },
        { key: "jsapis", icon: <ApiOutlined />, label: "JSAPIs" },
        { key: "features", icon: <ToolOutlined />, label: "Features" },
        { key: "analytics", icon: <BarChartOutlined />, label: "Analytics" },
        { key: "quality", icon: <BugOutlined />, label: "Quality" },
        { key: "approvals", icon: <AuditOutlined />, label: "Approvals" },
        { key: "apps", icon: <MobileOutlined />, label: "Apps" },
        { key: "members", icon: <TeamOutlined />, label: "Members" },
        { key: "workspace", icon: <HomeOutlined />, label: "Workspace" },
        ...(can.administer(role) ? [{ key: "settings", icon: <SettingOutlined />, label: "Settings" }] : []),
      ]
    : [];
  const active = (workspaces.data?.items ?? []).filter((item) => item.status === "active");
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Header style={{ display: "flex", alignItems: "center", gap: 16, background: "#001529" }}>
        <Typography.Title level={4} style={{ color: "#fff", margin: 0, cursor: "pointer", whiteSpace: "nowrap" }} onClick={() => navigate("/workspaces")}>
          MPDP
        </Typography.Title>
        <Select
          aria-label="Workspace"
          style={{ minWidth: 220 }}
          placeholder="Choose a workspace"
          value={ws}
          onChange={(value) => navigate(value === "__all" ? "/workspaces" : `/workspaces/${value}/miniprograms`)}
          options={[
            ...active.map((item) => ({ value: item.id, label: `${item.name}${item.kind === "developer" ? " (developer)" : ""}` })),
            { value: "__all", label: "All workspaces / create…" },
          ]}
        />
        {role && <Tag color="blue">{ROLE_LABELS[role]}</Tag>}
        <span style={{ flex: 1 }} />
        <Space>
          <Typography.Text style={{ color: "#fff" }} data-testid="account-name">
            {me?.name}
          </Typography.Text>
          <Button
            icon={<LogoutOutlined />}
            onClick={async () => {
              await signOut();
              navigate("/sign-in");
            }}
          >
            Sign out
          </Button>
        </Space>
      </Layout.Header>
      <Layout>
        {ws && (
          <Layout.Sider width={200} theme="light">
            <Menu mode="inline" selectedKeys={[section]} items={items} onClick={({ key }) => navigate(`/workspaces/${ws}/${key}`)} style={{ height: "100%" }} />
          </Layout.Sider>
        )}
        <Layout.Content style={{ padding: 24, maxWidth: 1280 }}>
          {/* the header and menu stay while a page's code arrives */}
          <Suspense fallback={<Card loading />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
