import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const preview = {
  workspace_id: "ws1",
  workspace_name: "Acme",
  role: "reviewer",
  email: "rita@example.com",
  invited_by: "Ada",
  status: "pending",
  expires_at: "2026-12-10T10:00:00Z",
};

/** The platform's answers, for someone signed in with `email` (or no one). */
function serve(email: string | null, invitation = preview) {
  if (email) sessionStorage.setItem("mpdp.refresh_token", "r");
  vi.stubGlobal("fetch", async (url: string) => {
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json({ id: "u1", email, email_verified: true, mfa_enabled: false, name: "Someone", created_at: "2026-11-01T09:00:00Z", memberships: [] });
    return json(invitation);
  });
}

/** The page as a tab that has just been opened shows it (the client's memory starts empty). */
async function show() {
  vi.resetModules();
  const { AuthProvider } = await import("../auth");
  const { AcceptInvitation } = await import("./Account");
  return render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={["/invitations/t0k3n"]}>
        <AuthProvider>
          <Routes>
            <Route path="/invitations/:token" element={<AcceptInvitation />} />
          </Routes>
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("an invitation's page", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("names the workspace, the role and who invited, and offers to sign in or sign up to someone signed out", async () => {
    serve(null);
    await show();
    expect(await screen.findByTestId("invitation-preview")).toHaveTextContent("Ada invited rita@example.com to Acme as Workspace Reviewer.");
    expect(screen.getByRole("link", { name: "Sign in" })).toHaveAttribute("href", "/sign-in?next=%2Finvitations%2Ft0k3n");
    expect(screen.getByRole("link", { name: "Create an account" })).toHaveAttribute("href", "/sign-up?next=%2Finvitations%2Ft0k3n");
  });

  it("offers a way out to someone signed in with another address", async () => {
    serve("bob@example.com");
    await show();
    expect(await screen.findByText("You are signed in as bob@example.com")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Sign out, then sign in as rita@example.com" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Accept the invitation" })).toBeNull();
  });

  it("lets the invited address accept", async () => {
    serve("Rita@example.com");
    await show();
    expect(await screen.findByRole("button", { name: "Accept the invitation" })).toBeInTheDocument();
  });

  it("says when it can no longer be accepted", async () => {
    serve(null, { ...preview, status: "expired" });
    await show();
    expect(await screen.findByText("This invitation is expired.")).toBeInTheDocument();
  });
});
