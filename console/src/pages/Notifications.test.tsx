import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { NotificationChoices, Role } from "../api/types";
import { json, member, renderAt, signedIn } from "../test/console";
import { WorkspacePage } from "./Workspaces";

const FIRST = { timeout: 10_000 };

/** The platform keeping one member's choices; every PUT body, kept. */
function serve(role: Role, choices: NotificationChoices = { approvals: true, releases: true, quality: true }) {
  const put: unknown[] = [];
  let kept = { ...choices };
  signedIn(member("uma", role), (address, init) => {
    if (address.pathname === "/api/v1/workspaces/ws1/notifications") {
      if (init.method === "PUT") {
        const body = JSON.parse(String(init.body)) as NotificationChoices;
        put.push(body);
        kept = body;
      }
      return json(kept);
    }
    if (address.pathname === "/api/v1/workspaces/ws1") return json({ id: "ws1", name: "Acme", kind: "tenant", status: "active", created_at: "2026-11-24T10:00:00Z" });
    return json({ items: [], next_cursor: null });
  });
  return put;
}

const show = () => renderAt("/workspaces/ws1/workspace#notifications", "/workspaces/:ws/workspace", <WorkspacePage />);

describe("the workspace page's notifications", () => {
  // jsdom lays nothing out, and has no scrolling of its own
  const scrolled = vi.fn();
  beforeEach(() => {
    sessionStorage.clear();
    scrolled.mockClear();
    Element.prototype.scrollIntoView = scrolled;
  });
  afterEach(() => vi.unstubAllGlobals());

  it("shows each kind of mail with what it says and to whom, as the member chose", async () => {
    serve("admin", { approvals: true, releases: false, quality: true });
    show();
    const card = (await screen.findByText("Notifications", {}, FIRST)).closest<HTMLElement>("#notifications")!;
    expect(await within(card).findByRole("switch", { name: "Approvals" }, FIRST)).toBeChecked();
    expect(within(card).getByRole("switch", { name: "Releases" })).not.toBeChecked();
    expect(within(card).getByRole("switch", { name: "Quality" })).toBeChecked();
    expect(within(card).getByText(/A request waiting for a decision, to the workspace's reviewers and admins/)).toBeInTheDocument();
    expect(within(card).getByText(/A launch halted or released, to the workspace's admins and the mini program's assigned developers/)).toBeInTheDocument();
    expect(within(card).getByText(/A new or regressed crash issue/)).toBeInTheDocument();
    // a mail's link, to #notifications, brings the card into view
    expect(scrolled.mock.contexts).toContain(card);
  });

  it("saves a switch as it is changed, every kind sent, and says so", { timeout: 60_000 }, async () => {
    const put = serve("developer");
    show();
    await userEvent.click(await screen.findByRole("switch", { name: "Quality" }, FIRST));
    await waitFor(() => expect(put).toEqual([{ approvals: true, releases: true, quality: false }]));
    expect(await screen.findByText("Quality mails off")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "Quality" })).not.toBeChecked();

    await userEvent.click(screen.getByRole("switch", { name: "Approvals" }));
    await waitFor(() => expect(put).toHaveLength(2));
    expect(put[1]).toEqual({ approvals: false, releases: true, quality: false });
    expect(await screen.findByText("Approvals mails off")).toBeInTheDocument();
  });

  it("tells a reviewer which mails their role is not sent", async () => {
    serve("reviewer");
    show();
    await screen.findByRole("switch", { name: "Releases" }, FIRST);
    expect(screen.getAllByText(/Your role is sent none of these/)).toHaveLength(2);
  });
});
