import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me, Version } from "../api/types";
import { AuthProvider } from "../auth";
import { PackageReport } from "./MiniPrograms";

const report: NonNullable<Version["report"]> = {
  size: 2048,
  files: 4,
  pages: [{ page: "pages/index/index", size: 1024 }],
  jsapis_used: ["getLocation", "showToast"],
  jsapis_not_granted: ["getLocation"],
  sourcemaps: ["pages/index/index.js.map"],
  warnings: ["big.js is 5000000 bytes, over the 4194304 bytes a file may have to be parsed; its JSAPI calls are not counted."],
};

describe("a version's package report", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("shows the pages with their sizes, the JSAPIs used, those not granted, the maps and the warnings", () => {
    render(<PackageReport report={report} />);
    expect(screen.getByText(/pages\/index\/index ·/)).toBeTruthy();
    expect(screen.getByText("my.getLocation").closest(".ant-tag")?.className).toContain("red");
    expect(screen.getByText("my.showToast").closest(".ant-tag")?.className).not.toContain("red");
    expect(screen.getByText(/Not granted to this mini program at upload: getLocation/)).toBeTruthy();
    expect(screen.getByText("pages/index/index.js.map")).toBeTruthy();
    expect(screen.getByText(/big.js is 5000000 bytes/)).toBeTruthy();
  });

  it("requests, in a click, the feature that grants a JSAPI not granted", async () => {
    const developer: Me = { id: "dev", email: "dev@example.com", email_verified: true, mfa_enabled: false, name: "Dev", created_at: "2026-11-01T09:00:00Z", memberships: [{ workspace_id: "ws1", role: "developer", status: "active" }] };
    const requested: unknown[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
      const path = new URL(url, "http://console").pathname;
      if (path === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
      if (path === "/api/v1/me") return json(developer);
      if (path.endsWith("/jsapis")) return json({ items: [{ id: "j1", name: "getLocation" }, { id: "j2", name: "scanCode" }], next_cursor: null });
      if (path.endsWith("/miniprograms/mp1/features") && init.method === "POST") {
        requested.push(JSON.parse(String(init.body)));
        return json({ feature_id: "f1", status: "pending_approval" }, 201);
      }
      if (path.endsWith("/features")) {
        const feature = (id: string, name: string, jsapi_ids: string[]) => ({ id, name, jsapi_ids });
        return json({ items: [feature("f1", "Maps", ["j1"]), feature("f2", "Scanner", ["j2"])], next_cursor: null });
      }
      return json({ items: [], next_cursor: null });
    });
    sessionStorage.setItem("mpdp.refresh_token", "r");
    render(
      <AntApp>
        <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
          <MemoryRouter initialEntries={["/workspaces/ws1/miniprograms/mp1/versions"]}>
            <AuthProvider>
              <Routes>
                <Route path="/workspaces/:ws/miniprograms/:mp/versions" element={<PackageReport report={report} mp="mp1" />} />
              </Routes>
            </AuthProvider>
          </MemoryRouter>
        </QueryClientProvider>
      </AntApp>,
    );
    const request = await screen.findByRole("button", { name: "Request Maps (getLocation)" });
    expect(screen.queryByRole("button", { name: /Scanner/ })).toBeNull();
    await userEvent.click(request);
    await waitFor(() => expect(requested).toEqual([{ feature_id: "f1" }]));
    expect(await screen.findByRole("button", { name: "Maps requested (getLocation)" })).toHaveProperty("disabled", true);
  });
});
