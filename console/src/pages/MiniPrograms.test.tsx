import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Me, MiniProgram } from "../api/types";
import { AuthProvider } from "../auth";
import { MiniProgramDetail } from "./MiniPrograms";

const developer: Me = { id: "dev", email: "dev@example.com", name: "Dev", created_at: "2026-11-01T09:00:00Z", email_verified: true, mfa_enabled: false, memberships: [{ workspace_id: "ws1", role: "developer", status: "active" }] };
const coffee: MiniProgram = {
  id: "mp1",
  workspace_id: "ws1",
  telemetry_id: 1,
  name: "Coffee",
  description: "",
  status: "draft",
  developer_ids: ["dev"],
  created_by: "admin",
  created_at: "2026-11-24T10:00:00Z",
  updated_at: "2026-11-24T10:00:00Z",
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** The platform's answers; every upload is refused with `rejection`. */
function serve(rejection: object) {
  vi.stubGlobal("fetch", async (url: string) => {
    if (url === "/api/v1/auth/refresh") return json({ access_token: "a", refresh_token: "r2", token_type: "Bearer", expires_in: 900 });
    if (url === "/api/v1/me") return json(developer);
    if (url.startsWith("/api/v1/workspaces/ws1/miniprograms/mp1/versions")) return json({ items: [], next_cursor: null });
    if (url === "/api/v1/workspaces/ws1/miniprograms/mp1") return json(coffee);
    return json({ title: "Not Found", status: 404 }, 404);
  });
  vi.stubGlobal(
    "XMLHttpRequest",
    class {
      status = 0;
      responseText = "";
      upload = { onprogress: null };
      onload: (() => void) | null = null;
      open() {}
      setRequestHeader() {}
      send() {
        this.status = 422;
        this.responseText = JSON.stringify(rejection);
        setTimeout(() => this.onload?.());
      }
    },
  );
  sessionStorage.setItem("mpdp.refresh_token", "r");
}

function show() {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter initialEntries={["/workspaces/ws1/miniprograms/mp1/versions"]}>
          <AuthProvider>
            <Routes>
              <Route path="/workspaces/:ws/miniprograms/:mp/:tab" element={<MiniProgramDetail />} />
            </Routes>
          </AuthProvider>
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

async function uploadPackage() {
  await userEvent.click(await screen.findByRole("button", { name: "Upload version" }));
  await userEvent.type(screen.getByPlaceholderText("1.0.0"), "1.0.0");
  await userEvent.upload(document.querySelector("input[type=file]") as HTMLInputElement, new File(["not a zip"], "bad.zip", { type: "application/zip" }));
  // the form took the place of the button that opened it
  await userEvent.click(screen.getByRole("button", { name: "Upload version" }));
}

describe("uploading a version", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("shows why the package was refused once, under the package", async () => {
    const refusal = "The package is not a zip archive.";
    serve({ title: "Unprocessable Content", status: 422, detail: "The package is not valid.", errors: { package: [refusal] } });
    show();
    await uploadPackage();
    expect((await screen.findByText(refusal)).closest(".ant-form-item")).toHaveTextContent("Package");
    expect(document.body.textContent?.split(refusal)).toHaveLength(2);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("lists what the server says of a field the form does not have", async () => {
    serve({ title: "Unprocessable Content", status: 422, detail: "Some fields are not valid.", errors: { workspace: ["The workspace is blocked."] } });
    show();
    await uploadPackage();
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("The workspace is blocked."));
  });
});
