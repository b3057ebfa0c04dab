import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApprovalWithTrail, Me } from "../api/types";
import { AuthProvider } from "../auth";
import { ApprovalDetail, changeFrom } from "./Approvals";

const pending: ApprovalWithTrail = {
  id: "ap1",
  workspace_id: "ws1",
  type: "launch",
  status: "pending",
  title: "Launch Coffee 1.0.0 on Super App",
  subject: { kind: "launch", id: "l1" },
  details: {},
  applicant_id: "dev",
  created_at: "2026-11-24T10:00:00Z",
  decided_at: null,
  decided_by: null,
  comment: null,
  trail: [{ action: "opened", by: "dev", at: "2026-11-24T10:00:00Z", comment: null }],
};

function serve(me: Me, approval: ApprovalWithTrail) {
  const posts: { url: string; body: unknown }[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    if (url === "/api/v1/auth/refresh") return new Response(JSON.stringify({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 }), { status: 200 });
    if (url === "/api/v1/me") return new Response(JSON.stringify(me), { status: 200 });
    if (url.includes("/members")) return new Response(JSON.stringify({ items: [], next_cursor: null }), { status: 200 });
    if (init.method === "POST") {
      posts.push({ url, body: JSON.parse(String(init.body)) });
      return new Response(JSON.stringify({ ...approval, status: "rejected" }), { status: 200 });
    }
    return new Response(JSON.stringify(approval), { status: 200 });
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
  return posts;
}

function show() {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={["/workspaces/ws1/approvals/ap1"]}>
          <AuthProvider>
            <Routes>
              <Route path="/workspaces/:ws/approvals/:id" element={<ApprovalDetail />} />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

const member = (id: string, role: "admin" | "reviewer" | "developer"): Me => ({ id, email: `${id}@example.com`, name: id, created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [{ workspace_id: "ws1", role, status: "active" }] });

describe("an approval's detail", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("lets a reviewer reject only with a comment", async () => {
    const posts = serve(member("rita", "reviewer"), pending);
    show();
    await userEvent.click(await screen.findByRole("button", { name: "Reject" }));
    const dialog = await screen.findByRole("dialog");
    const confirm = dialog.querySelector(".ant-modal-footer .ant-btn-dangerous") as HTMLButtonElement;
    expect(confirm).toBeDisabled();
    await userEvent.type(screen.getByLabelText("Comment"), "Crashes on start");
    expect(confirm).toBeEnabled();
    await userEvent.click(confirm);
    await waitFor(() => expect(posts).toEqual([{ url: "/api/v1/workspaces/ws1/approvals/ap1/reject", body: { comment: "Crashes on start" } }]));
  });

  it("offers the applicant withdraw, and never approve of their own request", async () => {
    serve(member("dev", "admin"), pending);
    show();
    expect(await screen.findByRole("button", { name: "Withdraw" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
    expect(screen.getByText("You requested this, so another reviewer decides it.")).toBeInTheDocument();
  });

  it("tells a launch withdrawn as it was approved: the decision kept, the withdrawal in the trail", async () => {
    const late = "The launch was withdrawn at the catalog before this decision reached it; the decision was not applied.";
    serve(member("rita", "reviewer"), {
      ...pending,
      status: "approved",
      decided_at: "2026-11-24T10:04:59Z",
      decided_by: "rita",
      comment: "Looks good",
      trail: [
        { action: "opened", by: "dev", at: "2026-11-24T10:00:00Z", comment: null },
        { action: "approved", by: "rita", at: "2026-11-24T10:04:59Z", comment: "Looks good" },
        { action: "withdrawn", by: "dev", at: "2026-11-24T10:05:00Z", comment: late },
      ],
    });
    show();
    expect(await screen.findByTestId("approval-status")).toHaveTextContent("approved");
    expect(screen.getByText("Decided by")).toBeInTheDocument();
    const steps = document.querySelectorAll(".ant-timeline-item");
    expect([...steps].map((step) => step.querySelector("b")?.textContent)).toEqual(["opened", "approved", "withdrawn"]);
    expect(steps[1]).toHaveTextContent("Looks good");
    expect(steps[2]).toHaveTextContent(late);
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
  });

  it("shows the reviewer what the version changes from the one live on the host app, file by file", async () => {
    const version = (id: string, name: string, pages: string[], size: number) => ({ id, version: name, pages, size, notes: "", report: null, miniprogram_id: "mp1", created_at: "2026-11-20T10:00:00Z" });
    const lists: Record<string, unknown[]> = {
      "/api/v1/workspaces/ws1/miniprograms": [{ id: "mp1", name: "Coffee" }],
      "/api/v1/workspaces/ws1/miniprograms/mp1/versions": [version("v1", "1.0.0", ["pages/index/index"], 4000), version("v2", "1.1.0", ["pages/index/index", "pages/pay/pay"], 5024)],
      "/api/v1/workspaces/ws1/miniprograms/mp1/launches": [{ id: "l0", app_id: "app1", version_id: "v1", status: "released" }],
      "/api/v1/workspaces/ws1/apps": [{ id: "app1", name: "Super App" }],
    };
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
      const address = new URL(url, "http://console");
      if (address.pathname === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
      if (address.pathname === "/api/v1/me") return json(member("rita", "reviewer"));
      if (address.pathname.endsWith("/changes")) {
        asked.push(`${address.pathname}${address.search}`);
        return json({ version_id: "v2", from_version_id: "v1", files_added: ["pages/pay/pay.js"], files_removed: [], files_changed: ["app.json"], size_change: 1024 });
      }
      if (address.pathname in lists) return json({ items: lists[address.pathname], next_cursor: null });
      if (address.pathname.includes("/members")) return json({ items: [], next_cursor: null });
      return json({ ...pending, details: { miniprogram_id: "mp1", launch_id: "l1", version_id: "v2", app_id: "app1" } });
    });
    sessionStorage.setItem("mpdp.refresh_token", "r");
    show();
    const subject = await screen.findByTestId("approval-subject");
    await waitFor(() => expect(subject).toHaveTextContent("Files addedpages/pay/pay.js"));
    expect(subject).toHaveTextContent("Files removednone");
    expect(subject).toHaveTextContent("Files changedapp.json");
    expect(subject).toHaveTextContent("Live on Super App1.0.0");
    expect(asked).toEqual(["/api/v1/workspaces/ws1/miniprograms/mp1/versions/v2/changes?from=v1"]);
  });

  it("offers a developer no decision", async () => {
    serve(member("dora", "developer"), pending);
    show();
    expect(await screen.findByText("Launch Coffee 1.0.0 on Super App")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole("button", { name: "Approve" })).toBeNull());
    expect(screen.queryByRole("button", { name: "Reject" })).toBeNull();
  });
});

describe("changeFrom", () => {
  it("names the pages a reviewed version adds and removes beside the live one, and its size change", () => {
    const live = { pages: ["pages/index/index", "pages/cart/cart"], size: 4000, report: null };
    const reviewed = { pages: ["pages/index/index", "pages/pay/pay"], size: 5024, report: null };
    expect(changeFrom(live, reviewed)).toEqual({ added: ["pages/pay/pay"], removed: ["pages/cart/cart"], sizeChange: 1024, jsapisAdded: null });
    expect(changeFrom(undefined, reviewed)).toBeNull();
    const report = (jsapis_used: string[]) => ({ size: 1, files: 1, pages: [], jsapis_used, jsapis_not_granted: [], sourcemaps: [], warnings: [] });
    expect(changeFrom({ ...live, report: report(["showToast"]) }, { ...reviewed, report: report(["showToast", "getLocation"]) })?.jsapisAdded).toEqual(["getLocation"]);
  });
});
