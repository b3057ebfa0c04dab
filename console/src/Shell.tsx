import { LogoutOutlined, MenuOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Badge, Button, Card, Drawer, Grid, Layout, Menu, Select, Space, Tag, Typography } from "antd";
import { Suspense, useEffect, useRef, useState } from "react";
import { generatePath, Link, matchPath, Outlet, useLocation, useNavigate, useParams } from "react-router-dom";
import { api } from "./api/client";
import { keys } from "./api/keys";
import { paths } from "./api/paths";
import { wholeLists } from "./api/queries";
import type { Approval, Page } from "./api/types";
import { useAuth } from "./auth";
import { menuFor } from "./routes";
import { can, ROLE_LABELS } from "./workspace";

const APPROVALS = "/workspaces/:ws/approvals";
/** How many pending approvals the badge reads; with more, it says how many of these wait and "+". */
const BADGE_PAGE = 50;
/** How often the badge asks again while the person stays on one page. */
const BADGE_INTERVAL_MS = 60_000;

/** The approvals waiting for this person's decision: pending, and not their own request (four
 * eyes); asked again each time the page changes and every minute. */
function useWaitingApprovals(ws: string | undefined, decides: boolean, me: string | undefined, page: string): { count: number; more: boolean } {
  const pending = useQuery({
    queryKey: [...keys.approvals(ws ?? ""), "waiting"],
    queryFn: () => api.get<Page<Approval>>(paths.approvals(ws ?? ""), { status: "pending", limit: BADGE_PAGE }),
    enabled: !!ws && decides,
    refetchInterval: BADGE_INTERVAL_MS,
  });
  const { refetch, isFetching } = pending;
  const asks = !!ws && decides;
  const shownPage = useRef(page);
  useEffect(() => {
    if (shownPage.current === page) return;
    shownPage.current = page;
    // another workspace's count is being asked for already
    if (asks && !isFetching) void refetch();
  }, [asks, page, isFetching, refetch]);
  const count = (pending.data?.items ?? []).filter((item) => item.status === "pending" && item.applicant_id !== me).length;
  return { count, more: !!pending.data?.next_cursor };
}

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
  const waiting = useWaitingApprovals(ws, can.decide(role), me?.id, location.pathname);
  // below a tablet's width the menu is a drawer and the header keeps what fits
  const screens = Grid.useBreakpoint();
  const narrow = screens.md === false;
  const [drawer, setDrawer] = useState(false);
  // an entry's key is its route's path, so that the entry of the page shown, or of a page under it, is the one selected
  const items = ws
    ? menuFor(role).map(({ path, label, icon }) => ({
        key: path,
        icon,
        label:
          path === APPROVALS && waiting.count > 0 ? (
            <Space size={6}>
              {label}
              <Badge
                count={waiting.more ? `${waiting.count}+` : waiting.count}
                size="small"
                title={`${waiting.count}${waiting.more ? " or more" : ""} waiting for your decision`}
                data-testid="approvals-badge"
              />
            </Space>
          ) : (
            label
          ),
      }))
    : [];
  const selected = items.filter(({ key }) => matchPath({ path: key, end: false }, location.pathname)).map(({ key }) => key);
  const active = (workspaces.data?.items ?? []).filter((item) => item.status === "active");
  const menu = (
    <Menu
      mode="inline"
      selectedKeys={selected}
      items={items}
      onClick={({ key }) => {
        setDrawer(false);
        navigate(generatePath(key, { ws }));
      }}
      style={{ height: "100%", borderInlineEnd: narrow ? "none" : undefined }}
    />
  );
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Header style={{ display: "flex", alignItems: "center", gap: narrow ? 8 : 16, background: "#001529", paddingInline: narrow ? 12 : 50 }}>
        {narrow && ws && <Button type="text" aria-label="Menu" icon={<MenuOutlined style={{ color: "#fff" }} />} onClick={() => setDrawer(true)} />}
        <Typography.Title level={4} style={{ color: "#fff", margin: 0, cursor: "pointer", whiteSpace: "nowrap" }} onClick={() => navigate("/workspaces")}>
          MPDP
        </Typography.Title>
        <Select
          aria-label="Workspace"
          style={{ minWidth: narrow ? 0 : 220, flex: narrow ? 1 : undefined }}
          placeholder="Choose a workspace"
          value={ws}
          onChange={(value) => navigate(value === "__all" ? "/workspaces" : `/workspaces/${value}/miniprograms`)}
          options={[
            ...active.map((item) => ({ value: item.id, label: `${item.name}${item.kind === "developer" ? " (developer)" : ""}` })),
            { value: "__all", label: "All workspaces / create…" },
          ]}
        />
        {role && !narrow && <Tag color="blue">{ROLE_LABELS[role]}</Tag>}
        {!narrow && <span style={{ flex: 1 }} />}
        <Space>
          {!narrow && (
            <Link to="/security" style={{ color: "#fff" }} title="Security: password and sessions">
              <Typography.Text style={{ color: "#fff" }} data-testid="account-name">
                {me?.name}
              </Typography.Text>
            </Link>
          )}
          <Button
            icon={<LogoutOutlined />}
            aria-label="Sign out"
            onClick={async () => {
              await signOut();
              navigate("/sign-in");
            }}
          >
            {narrow ? null : "Sign out"}
          </Button>
        </Space>
      </Layout.Header>
      <Layout>
        {ws && !narrow && (
          <Layout.Sider width={200} theme="light">
            {menu}
          </Layout.Sider>
        )}
        {ws && narrow && (
          <Drawer
            placement="left"
            open={drawer}
            onClose={() => setDrawer(false)}
            size={260}
            title={
              <Link to="/security" onClick={() => setDrawer(false)} title="Security: password and sessions">
                {role ? `${me?.name ?? ""} · ${ROLE_LABELS[role]}` : me?.name}
              </Link>
            }
            styles={{ body: { padding: 0 } }}
          >
            {menu}
          </Drawer>
        )}
        <Layout.Content style={{ padding: narrow ? 12 : 24, maxWidth: 1280, minWidth: 0 }}>
          {/* the header and menu stay while a page's code arrives */}
          <Suspense fallback={<Card loading />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
