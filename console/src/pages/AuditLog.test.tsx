import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AuditLogEntry, Me, Page } from "../api/types";
import { AuditLog } from "./AuditLog";
import { AuthProvider } from "../auth";

const me = (role: "admin" | "developer"): Me => ({
  id: "ada",
  email: "ada@example.com",
  name: "Ada",
  email_verified: true,
  mfa_enabled: false,
  created_at: "2026-11-01T09:00:00Z",
  memberships: [{ workspace_id: "ws1", role, status: "active" }],
});

const entries: AuditLogEntry[] = [
  {
    id: "e2",
    at: "2026-12-07T10:05:00Z",
    actor: { kind: "api_key", id: "key1", on_behalf_of: "ada" },
    action: "catalog.version.uploaded",
    subject: { kind: "version", id: "v1" },
    summary: "Version 1.0.0 of mini program mp1 uploaded (2048 bytes)",
    request_id: "req-2",
  },
  {
    id: "e1",
    at: "2026-12-07T10:00:00Z",
    actor: { kind: "account", id: "ada" },
    action: "workspace.app.created",
    subject: { kind: "app", id: "app1" },
    summary: "Host app “Acme” created (com.acme.app)",
    request_id: "req-1",
  },
];

/** The platform's answers; every URL asked, kept. */
function serve(role: "admin" | "developer") {
  const asked: string[] = [];
  vi.stubGlobal("fetch", async (url: string) => {
    asked.push(url);
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(me(role));
    if (url.startsWith("/api/v1/workspaces/ws1/audit-log/export")) {
      return new Response(entries.map((entry) => JSON.stringify(entry)).join("\n") + "\n", { status: 200, headers: { "Content-Type": "application/x-ndjson" } });
    }
    const page: Page<AuditLogEntry> = { items: url.includes("action=workspace.app.created") ? entries.slice(1) : entries, next_cursor: null };
    return json(page);
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
  return asked;
}

function Where() {
  const location = useLocation();
  return <div data-testid="where">{location.search}</div>;
}

function show(at: string) {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={[at]}>
          <AuthProvider>
            <Routes>
              <Route
                path="/workspaces/:ws/audit-log"
                element={
                  <>
                    <AuditLog />
                    <Where />
                  </>
                }
              />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

describe("the audit log page", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("lists who did what, an API key with the account it acts for", async () => {
    serve("admin");
    show("/workspaces/ws1/audit-log");
    expect(await screen.findByText("Version 1.0.0 of mini program mp1 uploaded (2048 bytes)", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(screen.getByText("Host app “Acme” created (com.acme.app)")).toBeInTheDocument();
    expect(screen.getByText("API key")).toBeInTheDocument();
    expect(screen.getByText("for ada")).toBeInTheDocument();
    expect(screen.getByText("version v1")).toBeInTheDocument();
    expect(screen.getByText("workspace.app.created")).toBeInTheDocument();
  });

  it("asks with the filters the URL holds, and keeps a new action filter in the URL", async () => {
    const asked = serve("admin");
    show("/workspaces/ws1/audit-log?from=2026-12-01&to=2026-12-07");
    await screen.findByText("Version 1.0.0 of mini program mp1 uploaded (2048 bytes)", {}, { timeout: 5000 });
    expect(asked.some((url) => url.startsWith("/api/v1/workspaces/ws1/audit-log?") && url.includes("from=2026-12-01") && url.includes("to=2026-12-07"))).toBe(true);

    await userEvent.type(screen.getByRole("searchbox", { name: "Action" }), "workspace.app.created{Enter}");
    await waitFor(() => expect(screen.getByTestId("where").textContent).toContain("action=workspace.app.created"));
    expect(screen.getByTestId("where").textContent).toContain("from=2026-12-01");
    await waitFor(() => expect(screen.queryByText("Version 1.0.0 of mini program mp1 uploaded (2048 bytes)")).not.toBeInTheDocument());
    expect(asked.some((url) => url.includes("action=workspace.app.created") && url.includes("from=2026-12-01"))).toBe(true);
  });

  it("exports the days chosen as NDJSON", async () => {
    const asked = serve("admin");
    const made = vi.fn(() => "blob:audit");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: made, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    show("/workspaces/ws1/audit-log?from=2026-12-01");
    await screen.findByText("Version 1.0.0 of mini program mp1 uploaded (2048 bytes)", {}, { timeout: 5000 });
    await userEvent.click(screen.getByRole("button", { name: /Export/ }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(asked).toContain("/api/v1/workspaces/ws1/audit-log/export?from=2026-12-01");
    expect(made).toHaveBeenCalled();
    click.mockRestore();
  });

  it("tells a member who is not an admin that it is for admins, and asks nothing", async () => {
    const asked = serve("developer");
    show("/workspaces/ws1/audit-log");
    expect(await screen.findByText("Only workspace admins read the audit log.")).toBeInTheDocument();
    expect(asked.some((url) => url.includes("audit-log"))).toBe(false);
  });
});
