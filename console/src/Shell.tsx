import { LogoutOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Layout, Menu, Select, Space, Tag, Typography, Button, Card } from "antd";
import { Suspense, useEffect } from "react";
import { generatePath, Link, matchPath, Outlet, useLocation, useNavigate, useParams } from "react-router-dom";
import { wholeLists } from "./api/queries";
import { useAuth } from "./auth";
import { menuFor } from "./routes";
import { ROLE_LABELS } from "./workspace";

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
  // an entry's key is its route's path, so that the entry of the page shown, or of a page under it, is the one selected
  const items = ws ? menuFor(role).map(({ path, label, icon }) => ({ key: path, label, icon })) : [];
  const selected = items.filter(({ key }) => matchPath({ path: key, end: false }, location.pathname)).map(({ key }) => key);
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
          <Link to="/security" style={{ color: "#fff" }} title="Security: password and sessions">
            <Typography.Text style={{ color: "#fff" }} data-testid="account-name">
              {me?.name}
            </Typography.Text>
          </Link>
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
            <Menu mode="inline" selectedKeys={selected} items={items} onClick={({ key }) => navigate(generatePath(key, { ws }))} style={{ height: "100%" }} />
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
