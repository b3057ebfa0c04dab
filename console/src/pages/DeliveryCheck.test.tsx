import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth";
import { DeliveryCheck } from "./Apps";

describe("a host app's delivery check", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("asks what the app delivers to one user and shows each mini program's version and why", async () => {
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
      const address = new URL(url, "http://console");
      if (address.pathname === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
      if (address.pathname === "/api/v1/me")
        return json({ id: "dev", email: "dev@example.com", email_verified: true, mfa_enabled: false, name: "Dev", created_at: "2026-11-01T09:00:00Z", memberships: [{ workspace_id: "ws1", role: "developer", status: "active" }] });
      if (address.pathname.endsWith("/delivery")) {
        asked.push(address.search);
        const item = { miniprogram_id: "mp1", name: "Coffee", version: "2.0.0", version_id: "v2", channel: "grayscale", package_url: "/x", sha256: "0", size: 1 };
        return json({ items: address.searchParams.get("user_id") === "ada" ? [item] : [] });
      }
      return json({ items: [{ id: "mp1", name: "Coffee" }], next_cursor: null });
    });
    sessionStorage.setItem("mpdp.refresh_token", "r");
    render(
      <AntApp>
        <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
          <MemoryRouter initialEntries={["/workspaces/ws1/apps/app1"]}>
            <AuthProvider>
              <Routes>
                <Route path="/workspaces/:ws/apps/:app" element={<DeliveryCheck app="app1" />} />
              </Routes>
            </AuthProvider>
          </MemoryRouter>
        </QueryClientProvider>
      </AntApp>,
    );
    await userEvent.type(screen.getByLabelText("User ID"), "ada");
    await userEvent.type(screen.getByLabelText("Host version"), "8.2.0");
    await userEvent.click(screen.getByRole("button", { name: "Check" }));
    expect(await screen.findByRole("link", { name: "Coffee" })).toHaveAttribute("href", "/workspaces/ws1/miniprograms/mp1/launches");
    expect(screen.getByText("2.0.0")).toBeInTheDocument();
    expect(screen.getByText("grayscale")).toBeInTheDocument();
    expect(asked).toEqual(["?user_id=ada&host_version=8.2.0"]);

    await userEvent.clear(screen.getByLabelText("User ID"));
    await userEvent.type(screen.getByLabelText("User ID"), "bob");
    await userEvent.click(await screen.findByRole("button", { name: /Check/ }));
    expect(await screen.findByText("Nothing is delivered to bob on this app yet.")).toBeInTheDocument();
  });
});
