import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me, Settings } from "../api/types";
import { AuthProvider } from "../auth";
import { SettingsPage } from "./Settings";

const admin: Me = { id: "ada", email: "ada@example.com", name: "Ada", created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [{ workspace_id: "ws1", role: "admin", status: "active" }] };
const unset: Settings = {
  logo_url: null,
  favicon_url: null,
  service_email: null,
  domains: { primary: null, alternatives: [] },
  tester_whitelist_enabled: false,
  package_size_limit_bytes: 8388608,
  require_mfa: false,
  about_us_url: null,
  terms_of_service_url: null,
  updated_at: null,
};

/** The platform's answers; the bodies of the settings sent, kept. */
function serve(settings: Settings, putAnswer?: { status: number; body: unknown }) {
  const puts: unknown[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": status < 400 ? "application/json" : "application/problem+json" } });
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(admin);
    if (init.method === "PUT") {
      puts.push(JSON.parse(String(init.body)));
      return putAnswer ? json(putAnswer.body, putAnswer.status) : json(settings);
    }
    return json(settings);
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
  return puts;
}

function show() {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={["/workspaces/ws1/settings"]}>
          <AuthProvider>
            <Routes>
              <Route path="/workspaces/:ws/settings" element={<SettingsPage />} />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

describe("the settings page", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("asks for the SMTP host and port once a sender is filled, and sends nothing until then", async () => {
    const puts = serve(unset);
    show();
    await userEvent.type(await screen.findByPlaceholderText("noreply@example.com"), "noreply@acme.example");
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText("The SMTP host, with the sender and port.")).toBeInTheDocument();
    expect(screen.getByText("The port.")).toBeInTheDocument();
    expect(puts).toEqual([]);
  });

  it("sends the service email whole, keeping a stored password it was not given", async () => {
    const puts = serve({ ...unset, service_email: { sender: "noreply@acme.example", smtp_host: "smtp.acme.example", smtp_port: 587, smtp_username: null, smtp_password_set: true } });
    show();
    expect(await screen.findByText("A password is stored: left empty, it is kept.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(puts).toHaveLength(1));
    expect(puts[0]).toMatchObject({ service_email: { sender: "noreply@acme.example", smtp_host: "smtp.acme.example", smtp_port: 587, smtp_username: null }, domains: null });
    expect(puts[0]).not.toHaveProperty("service_email.smtp_password");
    expect(puts[0]).not.toHaveProperty("service_email.smtp_password_set");
  });

  it("has the switch that requires two-factor sign-in, says what it does, and sends it", async () => {
    const puts = serve(unset);
    show();
    const toggle = await screen.findByRole("switch", { name: "Require two-factor sign-in" });
    expect(screen.getByText(/can open this workspace and its member list but nothing else in it/)).toBeInTheDocument();
    expect(toggle).not.toBeChecked();
    await userEvent.click(toggle);
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(puts).toHaveLength(1));
    expect(puts[0]).toMatchObject({ require_mfa: true });
  });

  it("shows the setting as it is, and why turning it on was refused", async () => {
    const detail = "Turn on two-factor sign-in for your own account, and sign in with its code, before requiring it of the workspace.";
    serve(unset, { status: 409, body: { type: "urn:mpdp:problem:mfa-required", title: "Two-factor sign-in required", status: 409, detail } });
    show();
    await userEvent.click(await screen.findByRole("switch", { name: "Require two-factor sign-in" }));
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText(detail)).toBeInTheDocument();
  });

  it("shows a workspace that requires it with the switch on", async () => {
    serve({ ...unset, require_mfa: true });
    show();
    expect(await screen.findByRole("switch", { name: "Require two-factor sign-in" })).toBeChecked();
  });
});
