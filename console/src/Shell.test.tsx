import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me, Role } from "./api/types";
import { AuthProvider } from "./auth";
import { Shell } from "./Shell";

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

function serve(role: Role) {
  const me: Me = { id: "u1", email: "u1@example.com", name: "Uma", created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [{ workspace_id: "ws1", role, status: "active" }] };
  vi.stubGlobal("fetch", async (url: string) => {
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(me);
    if (url.startsWith("/api/v1/workspaces/ws1/approvals?"))
      return json({
        items: [
          { id: "a1", status: "pending", applicant_id: "u2", type: "launch", title: "Launch 1.0.0" },
          { id: "a2", status: "pending", applicant_id: "u1", type: "feature", title: "Uma's own request" },
        ],
        next_cursor: null,
      });
    return json({ items: [{ id: "ws1", name: "Acme", kind: "tenant", status: "active", role, created_at: "2026-11-24T10:00:00Z" }], next_cursor: null });
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
}

function show(at: string) {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={[at]}>
          <AuthProvider>
            <Routes>
              <Route element={<Shell />}>
                <Route path="/workspaces/:ws/miniprograms/:mp/:tab" element={<p>A mini program's versions</p>} />
                <Route path="/workspaces/:ws/members" element={<p>The members</p>} />
                <Route path="/security" element={<p>The account's security</p>} />
              </Route>
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

describe("the workspace menu", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("marks the section of the page shown, and leads to another section of the same workspace", async () => {
    serve("developer");
    show("/workspaces/ws1/miniprograms/mp1/versions");
    expect(await screen.findByText("Workspace Developer")).toBeInTheDocument();
    const entries = screen.getAllByRole("menuitem");
    expect(entries.map((entry) => entry.textContent)).toEqual(["Mini programs", "JSAPIs", "Features", "Analytics", "Quality", "Approvals", "Apps", "Members", "Workspace"]);
    expect(screen.getByRole("menuitem", { name: /Mini programs/ })).toHaveClass("ant-menu-item-selected");
    await userEvent.click(screen.getByRole("menuitem", { name: /Members/ }));
    expect(await screen.findByText("The members")).toBeInTheDocument();
    expect(screen.getByRole("menuitem", { name: /Members/ })).toHaveClass("ant-menu-item-selected");
    expect(screen.getByRole("menuitem", { name: /Mini programs/ })).not.toHaveClass("ant-menu-item-selected");
  });

  it("offers an admin the workspace's settings", async () => {
    serve("admin");
    show("/workspaces/ws1/members");
    expect(await screen.findByText("Workspace Admin")).toBeInTheDocument();
    expect(screen.getByRole("menuitem", { name: /Settings/ })).toBeInTheDocument();
  });

  it("counts on Approvals what waits for this person's decision, not their own requests", async () => {
    serve("reviewer");
    show("/workspaces/ws1/members");
    const badge = await screen.findByTestId("approvals-badge");
    expect(badge).toHaveTextContent("1");
    expect(screen.getByTitle("1 waiting for your decision")).toBeInTheDocument();
  });

  it("shows a developer, who decides nothing, no count", async () => {
    serve("developer");
    show("/workspaces/ws1/members");
    expect(await screen.findByText("Workspace Developer")).toBeInTheDocument();
    expect(screen.queryByTestId("approvals-badge")).not.toBeInTheDocument();
  });

  it("leads from the account's name to its security page", async () => {
    serve("developer");
    show("/workspaces/ws1/members");
    await userEvent.click(await screen.findByTestId("account-name"));
    expect(await screen.findByText("The account's security")).toBeInTheDocument();
  });
});
