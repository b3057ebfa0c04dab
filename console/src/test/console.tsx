import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { App as AntApp } from "antd";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { vi } from "vitest";
import type { Me, Role } from "../api/types";
import { AuthProvider } from "../auth";

/** A JSON answer of the platform. */
export const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** An account with one active membership in ws1. */
export const member = (id: string, role: Role): Me => ({
  id,
  email: `${id}@example.com`,
  name: id,
  created_at: "2026-11-01T09:00:00Z",
  email_verified: true,
  mfa_enabled: false,
  memberships: [{ workspace_id: "ws1", role, status: "active" }],
});

/** A tab signed in as `me`: the platform answers the sign-in's own calls, and `answer` every other. */
export function signedIn(me: Me, answer: (url: URL, init: RequestInit) => Response | Promise<Response>): void {
  sessionStorage.setItem("mpdp.refresh_token", "r");
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const address = new URL(url, "http://console");
    if (address.pathname === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (address.pathname === "/api/v1/me") return json(me);
    return answer(address, init);
  });
}

/** `element` on the page at `path`, matched by `route`, inside the console's providers. */
export function renderAt(path: string, route: string, element: ReactElement) {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={[path]}>
          <AuthProvider>
            <Routes>
              <Route path={route} element={element} />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}
