import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth";
import { SignUp } from "./Account";

function show() {
  return render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={["/sign-up"]}>
        <AuthProvider>
          <SignUp />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

async function fill(password: string, repeat: string) {
  await userEvent.type(screen.getByLabelText("Name"), "Ada");
  await userEvent.type(screen.getByLabelText("Email"), "ada@example.com");
  await userEvent.type(screen.getByLabelText("Password"), password);
  await userEvent.type(screen.getByLabelText("Repeat the password"), repeat);
  await userEvent.click(screen.getByRole("button", { name: "Create account" }));
}

describe("the sign-up form", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("checks the password before anything is sent", async () => {
    const send = vi.fn();
    vi.stubGlobal("fetch", send);
    show();
    await fill("short", "other");
    expect(await screen.findByText("Use at least 10 characters.")).toBeInTheDocument();
    expect(await screen.findByText("The passwords differ.")).toBeInTheDocument();
    expect(send).not.toHaveBeenCalled();
  });

  it("shows the server's answer when the email is taken", async () => {
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ title: "Conflict", status: 409, detail: "An account with this email exists." }), { status: 409, headers: { "Content-Type": "application/problem+json" } }),
    );
    show();
    await fill("a long enough password", "a long enough password");
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("An account with this email exists."));
  });

  it("puts a field's server message on that field", async () => {
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ title: "Unprocessable Entity", status: 422, errors: { email: ["Not a valid email address."] } }), { status: 422 }),
    );
    show();
    await fill("a long enough password", "a long enough password");
    expect(await screen.findByText("Not a valid email address.")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
