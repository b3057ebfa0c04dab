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
  about_us_url: null,
  terms_of_service_url: null,
  updated_at: null,
};

/** The platform's answers; the bodies of the settings sent, kept. */
function serve(settings: Settings) {
  const puts: unknown[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(admin);
    if (init.method === "PUT") {
      puts.push(JSON.parse(String(init.body)));
      return json(settings);
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
});
