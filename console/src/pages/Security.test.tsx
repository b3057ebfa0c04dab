import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me } from "../api/types";
import { AuthProvider } from "../auth";
import { Security } from "./Security";

const ada: Me = { id: "ada", email: "ada@example.com", name: "Ada", created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [] };

/** The platform's answers, with what DELETE /api/v1/me answers; the erasure bodies sent, kept. */
function serve(erasure: { status: number; body?: unknown }) {
  const erasures: unknown[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": status < 400 ? "application/json" : "application/problem+json" } });
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/auth/logout") return new Response(null, { status: 204 });
    if (url === "/api/v1/me/sessions") return json({ items: [] });
    if (url === "/api/v1/me" && init.method === "DELETE") {
      erasures.push(JSON.parse(String(init.body)));
      return erasure.status === 204 ? new Response(null, { status: 204 }) : json(erasure.body, erasure.status);
    }
    if (url === "/api/v1/me") return json(ada);
    return json({});
  });
  sessionStorage.setItem("mpdp.refresh_token", "r");
  return erasures;
}

function show() {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={["/security"]}>
          <AuthProvider>
            <Routes>
              <Route path="/security" element={<Security />} />
              <Route path="/sign-in" element={<p>the sign-in page</p>} />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

async function deleteWith(password: string) {
  const zone = await screen.findByTestId("danger-zone");
  await userEvent.type(zone.querySelector("input[type=password]") as HTMLInputElement, password);
  await userEvent.click(screen.getByRole("button", { name: "Delete account" }));
  await userEvent.click(await screen.findByRole("button", { name: "Delete" }));
}

describe("the security page's danger zone", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("asks for the password, erases the account with it and signs out", async () => {
    const erasures = serve({ status: 204 });
    show();
    expect(await screen.findByText(/This cannot be undone/)).toBeInTheDocument();
    await deleteWith("a long password");
    await waitFor(() => expect(erasures).toEqual([{ password: "a long password" }]));
    expect(await screen.findByText("the sign-in page")).toBeInTheDocument();
  });

  it("sends nothing without a password", async () => {
    const erasures = serve({ status: 204 });
    show();
    await screen.findByTestId("danger-zone");
    await userEvent.click(screen.getByRole("button", { name: "Delete account" }));
    await userEvent.click(await screen.findByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Enter your password to delete the account.")).toBeInTheDocument();
    expect(erasures).toEqual([]);
  });

  it("says why it was refused for the last admin of a workspace", async () => {
    const detail = "You are the last active admin of a workspace: make another member admin there (or delete it) before erasing the account.";
    serve({ status: 409, body: { type: "urn:mpdp:problem:last-admin", title: "Last admin of a workspace", status: 409, detail, workspace_ids: ["ws1"] } });
    show();
    await deleteWith("a long password");
    expect(await screen.findByText(detail)).toBeInTheDocument();
    expect(screen.queryByText("the sign-in page")).not.toBeInTheDocument();
  });
});
