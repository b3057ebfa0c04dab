import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AlertRule, Role } from "../api/types";
import { json, member, renderAt, signedIn } from "../test/console";
import { AlertRules } from "./AlertRules";

const firing: AlertRule = {
  id: "r1",
  miniprogram_id: "mp1",
  kind: "crash_free_sessions_below",
  threshold: 0.995,
  min_sessions: 100,
  window_minutes: 60,
  min_errors: null,
  state: "firing",
  last_fired_at: "2026-12-01T10:00:00Z",
  last_value: 0.97,
  last_sessions: 400,
  evaluated_at: "2026-12-01T10:00:00Z",
  created_at: "2026-11-30T10:00:00Z",
  created_by: "ada",
};

/** The telemetry service's alert rules of mp1, as they are made and deleted. */
function serve(role: Role) {
  let rules = [firing];
  const sent: { method: string; path: string; body: unknown }[] = [];
  signedIn(member("ada", role), (address, init) => {
    const method = init.method ?? "GET";
    if (method !== "GET") sent.push({ method, path: address.pathname, body: init.body ? JSON.parse(String(init.body)) : null });
    if (method === "POST") {
      const made = { ...firing, ...(JSON.parse(String(init.body)) as object), id: "r2", state: "ok", last_fired_at: null } as AlertRule;
      rules = [...rules, made];
      return json(made, 201);
    }
    if (method === "DELETE") {
      rules = rules.filter((rule) => !address.pathname.endsWith(`/${rule.id}`));
      return new Response(null, { status: 204 });
    }
    expect(address.searchParams.get("miniprogram_id")).toBe("mp1");
    return json({ items: rules, next_cursor: null });
  });
  renderAt("/workspaces/ws1/quality", "/workspaces/:ws/quality", <AlertRules miniprogramId="mp1" />);
  return sent;
}

describe("a mini program's alert rules", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("lets an admin add a crash-free rule, its threshold entered as a percentage", async () => {
    const sent = serve("admin");
    const row = (await screen.findByText("below 99.50% over 60 min, with 100 sessions at least")).closest("tr") as HTMLElement;
    expect(within(row).getByText("firing")).toBeInTheDocument();

    // (by text, not by role: roles' accessible names are slow to compute over antd's whole page)
    fireEvent.click(screen.getByText("Add rule"));
    fireEvent.change(await screen.findByLabelText("Threshold (%)"), { target: { value: "98.5" } });
    fireEvent.change(screen.getByLabelText("Window (minutes)"), { target: { value: "30" } });
    const dialog = (await screen.findByText("Add an alert rule")).closest(".ant-modal") as HTMLElement;
    fireEvent.click(within(dialog).getByText("Add rule"));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({
      method: "POST",
      path: "/api/v1/workspaces/ws1/alert-rules",
      body: { miniprogram_id: "mp1", kind: "crash_free_sessions_below", threshold: 0.985, min_sessions: 100, window_minutes: 30 },
    });
    expect(await screen.findByText("below 98.50% over 30 min, with 100 sessions at least")).toBeInTheDocument();
  });

  it("lets an admin delete a rule, once confirmed", async () => {
    const sent = serve("admin");
    const row = (await screen.findByText("below 99.50% over 60 min, with 100 sessions at least")).closest("tr") as HTMLElement;
    fireEvent.click(within(row).getByText("Delete"));
    fireEvent.click(await screen.findByText("OK"));
    await waitFor(() => expect(sent).toEqual([{ method: "DELETE", path: "/api/v1/workspaces/ws1/alert-rules/r1", body: null }]));
    await waitFor(() => expect(screen.queryByText("below 99.50% over 60 min, with 100 sessions at least")).not.toBeInTheDocument());
  });

  it("shows a developer the rules and their state, with nothing to change", async () => {
    serve("developer");
    expect(await screen.findByText("firing")).toBeInTheDocument();
    expect(screen.queryByText("Add rule")).not.toBeInTheDocument();
    expect(screen.queryByText("Delete")).not.toBeInTheDocument();
  });
});
