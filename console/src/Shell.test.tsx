import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
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

type Pending = { id: string; status: "pending"; applicant_id: string; type: string; title: string };
const waitingFor = (count: number, own = 0): Pending[] => [
  ...Array.from({ length: count }, (_, index) => ({ id: `a${index}`, status: "pending" as const, applicant_id: "u2", type: "launch", title: `Launch ${index}` })),
  ...Array.from({ length: own }, (_, index) => ({ id: `own${index}`, status: "pending" as const, applicant_id: "u1", type: "feature", title: `Uma's own request ${index}` })),
];

/** The platform as `role`; `pending` answers the approvals asked for (every ask of them counted). */
function serve(role: Role, pending: () => { items: Pending[]; next_cursor: string | null } = () => ({ items: waitingFor(1, 1), next_cursor: null })) {
  const asks = { approvals: 0 };
  const me: Me = { id: "u1", email: "u1@example.com", name: "Uma", created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [{ workspace_id: "ws1", role, status: "active" }] };
  vi.stubGlobal("fetch", async (url: string) => {
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(me);
    if (url.startsWith("/api/v1/workspaces/ws1/approvals?")) {
      asks.approvals += 1;
      return json(pending());
    }
    return json({ items: [{ id: "ws1", name: "Acme", kind: "tenant", status: "active", role, created_at: "2026-11-24T10:00:00Z" }], next_cursor: null });
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
  return asks;
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
                <Route path="/workspaces/:ws/jsapis" element={<p>The JSAPIs</p>} />
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

  it("asks again for the count when the page changes", async () => {
    let waiting = 1;
    const asks = serve("admin", () => ({ items: waitingFor(waiting), next_cursor: null }));
    show("/workspaces/ws1/members");
    expect(await screen.findByTestId("approvals-badge", {}, { timeout: 5000 })).toHaveTextContent("1");
    const before = asks.approvals;
    waiting = 3;
    await userEvent.click(screen.getByRole("menuitem", { name: /JSAPIs/ }));
    expect(await screen.findByText("The JSAPIs")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("approvals-badge")).toHaveTextContent("3"));
    expect(asks.approvals).toBe(before + 1);
  });

  it("asks again for the count every minute while the page stays", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      let waiting = 2;
      serve("reviewer", () => ({ items: waitingFor(waiting), next_cursor: null }));
      show("/workspaces/ws1/members");
      expect(await screen.findByTestId("approvals-badge", {}, { timeout: 5000 })).toHaveTextContent("2");
      waiting = 4;
      await vi.advanceTimersByTimeAsync(30_000);
      expect(screen.getByTestId("approvals-badge")).toHaveTextContent("2");
      await vi.advanceTimersByTimeAsync(30_000);
      await waitFor(() => expect(screen.getByTestId("approvals-badge")).toHaveTextContent("4"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("says there are more than the page counted", async () => {
    serve("reviewer", () => ({ items: waitingFor(48, 2), next_cursor: "next" }));
    show("/workspaces/ws1/members");
    expect(await screen.findByTestId("approvals-badge", {}, { timeout: 5000 })).toHaveTextContent("48+");
    expect(screen.getByTitle("48 or more waiting for your decision")).toBeInTheDocument();
  });

  it("shows no count when only the person's own requests wait", async () => {
    const asks = serve("admin", () => ({ items: waitingFor(0, 2), next_cursor: null }));
    show("/workspaces/ws1/members");
    expect(await screen.findByText("Workspace Admin", {}, { timeout: 5000 })).toBeInTheDocument();
    await waitFor(() => expect(asks.approvals).toBe(1));
    // the answer, once drawn, shows nothing beside the entry
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(screen.getByRole("menuitem", { name: /Approvals/ })).toHaveTextContent(/^Approvals$/);
    expect(screen.queryByTestId("approvals-badge")).not.toBeInTheDocument();
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
