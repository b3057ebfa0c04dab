import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Webhook, WebhookDelivery } from "../api/types";
import { json, member, renderAt, signedIn } from "../test/console";
import { Webhooks } from "./Webhooks";

const hook: Webhook = {
  id: "w1",
  url: "https://hooks.example.com/mpdp",
  events: ["launch.halted", "approval.opened"],
  description: "Releases to #launches",
  active: true,
  created_by: "ada",
  created_at: "2026-12-07T10:00:00Z",
};

const failed: WebhookDelivery = {
  id: "d1",
  event: "launch.halted",
  status: "failed",
  status_code: 500,
  attempts: 2,
  duration_ms: 80,
  delivered_at: null,
  next_attempt_at: null,
  error: "answered 500",
  created_at: "2026-12-07T10:05:00Z",
  history: [
    { at: "2026-12-07T10:05:00Z", status_code: null, duration_ms: 3000, error: "timed out after 3 s" },
    { at: "2026-12-07T10:05:10Z", status_code: 500, duration_ms: 80, error: null },
  ],
};

const SECRET = "whsec_4f1c9a0b7e";

/** The platform with the webhooks given; every request, kept with its body. */
function serve(webhooks: Webhook[], answers: { create?: () => Response } = {}) {
  const asked: { method: string; path: string; body: unknown }[] = [];
  signedIn(member("ada", "admin"), (address, init) => {
    const method = init.method ?? "GET";
    const path = address.pathname;
    asked.push({ method, path, body: init.body ? JSON.parse(String(init.body)) : undefined });
    const base = "/api/v1/workspaces/ws1/webhooks";
    if (path === base && method === "POST") {
      if (answers.create) return answers.create();
      const created = { ...hook, id: "w2", url: "https://ci.example.com/in", events: ["version.uploaded"], description: null, secret: SECRET };
      webhooks.push({ ...created, secret: undefined } as unknown as Webhook);
      return json(created, 201);
    }
    if (path === base) return json({ items: webhooks.map((each) => ({ ...each, secret: undefined })), next_cursor: null });
    if (path === `${base}/w1/deliveries`) return json({ items: [failed], next_cursor: null });
    if (path === `${base}/w1/deliveries/d1/redeliver`) return json({ ...failed, status: "pending", attempts: 2 }, 202);
    if (path === `${base}/w1/ping`) return json({ ...failed, id: "d2", event: "ping", status: "pending", attempts: 0, history: [] }, 202);
    if (path === `${base}/w1` && method === "PATCH") return json({ ...hook, ...(JSON.parse(String(init.body)) as object) });
    if (path === `${base}/w1` && method === "DELETE") return new Response(null, { status: 204 });
    if (path === `${base}/w1`) return json(hook);
    return json({ items: [], next_cursor: null });
  });
  return asked;
}

const show = (at = "/workspaces/ws1/webhooks") => renderAt(at, "/workspaces/:ws/webhooks", <Webhooks />);
/** The first answer waits for the sign-in and the page's first list. */
const FIRST = { timeout: 10_000 };

async function addWebhook(url: string) {
  await userEvent.click(await screen.findByRole("button", { name: /Add webhook/ }, FIRST));
  const dialog = await screen.findByRole("dialog");
  await userEvent.type(within(dialog).getByLabelText("URL"), url);
  await userEvent.click(within(dialog).getByRole("checkbox", { name: /version\.uploaded/ }));
  await userEvent.click(within(dialog).getByRole("button", { name: "Add webhook" }));
  return dialog;
}

describe("the webhooks page", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("says what a webhook is for while there is none", async () => {
    serve([]);
    show();
    expect(await screen.findByText(/No webhooks yet: add one to have this workspace's approvals, launches, uploads and crashes posted/, {}, FIRST)).toBeInTheDocument();
  });

  it("lists each webhook with its URL, events as tags, description and switch", async () => {
    serve([hook]);
    show();
    expect(await screen.findByText("https://hooks.example.com/mpdp", {}, FIRST)).toBeInTheDocument();
    expect(screen.getByText("launch.halted").closest(".ant-tag")).not.toBeNull();
    expect(screen.getByText("approval.opened").closest(".ant-tag")).not.toBeNull();
    expect(screen.getByText("Releases to #launches")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "Active: https://hooks.example.com/mpdp" })).toBeChecked();
  });

  it("offers each event with a line on what sends it", async () => {
    serve([hook]);
    show();
    await userEvent.click(await screen.findByRole("button", { name: /Add webhook/ }, FIRST));
    const form = await screen.findByRole("dialog");
    expect(within(form).getAllByRole("checkbox")).toHaveLength(9);
    expect(within(form).getByText("quality.issue.regressed")).toBeInTheDocument();
    expect(within(form).getByText("An issue marked resolved is seen again.")).toBeInTheDocument();
  });

  it("shows the new secret once, with how to check the signature, and never again", { timeout: 60_000 }, async () => {
    const asked = serve([hook]);
    show();
    await addWebhook("https://ci.example.com/in");

    const secret = await screen.findByTestId("secret", {}, FIRST);
    expect(secret).toHaveTextContent(SECRET);
    const dialog = secret.closest<HTMLElement>(".ant-modal")!;
    expect(within(dialog).getByText("Your webhook's signing secret")).toBeInTheDocument();
    expect(within(dialog).getByText(/shown only this once/)).toBeInTheDocument();
    expect(within(dialog).getByText("X-MPDP-Signature-256")).toBeInTheDocument();
    expect(within(dialog).getByText(/HMAC-SHA256 of the raw request body/)).toBeInTheDocument();
    expect(within(dialog).getByText("docs/webhooks.md")).toBeInTheDocument();
    expect(dialog.querySelector(".ant-typography-copy")).not.toBeNull();
    expect(asked.find((each) => each.method === "POST")?.body).toEqual({ url: "https://ci.example.com/in", events: ["version.uploaded"], description: null });

    await userEvent.click(within(dialog).getByText("I have copied it"));
    expect(await screen.findByText("https://ci.example.com/in")).toBeInTheDocument();
    await waitFor(() => expect(document.body.textContent).not.toContain(SECRET), FIRST);
  });

  it("puts the platform's refusal of an internal URL on the URL field", { timeout: 60_000 }, async () => {
    serve([], {
      create: () => json({ title: "Validation failed", status: 422, errors: { url: ["Not a public address: 10.0.0.5 is a private address"] } }, 422),
    });
    show();
    const dialog = await addWebhook("http://10.0.0.5/hook");
    const message = await within(dialog).findByText("Not a public address: 10.0.0.5 is a private address");
    expect(message.closest(".ant-form-item")?.querySelector("#url")).not.toBeNull();
    expect(within(dialog).queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.queryByTestId("secret")).not.toBeInTheDocument();
  });

  it("lists a webhook's deliveries, every attempt of one, and redelivers it", { timeout: 60_000 }, async () => {
    const asked = serve([hook]);
    show();
    await userEvent.click(await screen.findByRole("button", { name: "Deliveries" }, FIRST));
    const deliveries = await screen.findByTestId("deliveries");
    const row = (await within(deliveries).findByText("launch.halted", {}, FIRST)).closest("tr")!;
    expect(within(row).getByText("failed").closest(".ant-tag")?.className).toContain("red");
    expect(within(row).getByText("500")).toBeInTheDocument();
    expect(within(row).getByText("2")).toBeInTheDocument();

    await userEvent.click(within(row).getByRole("button", { name: "Expand row" }));
    const attempts = await screen.findByTestId("attempts");
    const lines = within(attempts).getAllByRole("row").slice(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveTextContent("timed out after 3 s");
    expect(lines[0]).toHaveTextContent("3000 ms");
    expect(lines[1]).toHaveTextContent("500");
    expect(lines[1]).toHaveTextContent("80 ms");

    await userEvent.click(within(row).getByRole("button", { name: "Redeliver" }));
    await waitFor(() => expect(asked.some((each) => each.method === "POST" && each.path === "/api/v1/workspaces/ws1/webhooks/w1/deliveries/d1/redeliver")).toBe(true));
    expect(await screen.findByText(/Sent again/)).toBeInTheDocument();
  });

  it("pings a webhook and opens its deliveries", async () => {
    const asked = serve([hook]);
    show();
    await userEvent.click(await screen.findByRole("button", { name: /Ping/ }, FIRST));
    await waitFor(() => expect(asked.some((each) => each.method === "POST" && each.path.endsWith("/webhooks/w1/ping"))).toBe(true));
    expect(await screen.findByTestId("deliveries")).toBeInTheDocument();
  });

  it("switches a webhook off, and deletes one once confirmed", { timeout: 60_000 }, async () => {
    const asked = serve([hook]);
    show();
    await userEvent.click(await screen.findByRole("switch", { name: "Active: https://hooks.example.com/mpdp" }, FIRST));
    await waitFor(() => expect(asked.find((each) => each.method === "PATCH")?.body).toEqual({ active: false }));
    expect(await screen.findByText(/Webhook off/)).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Delete https://hooks.example.com/mpdp" }));
    expect(asked.some((each) => each.method === "DELETE")).toBe(false);
    await userEvent.click(await screen.findByRole("button", { name: "Delete" }));
    await waitFor(() => expect(asked.some((each) => each.method === "DELETE" && each.path === "/api/v1/workspaces/ws1/webhooks/w1")).toBe(true));
  });

  it("tells a member who is not an admin that webhooks are for admins, and asks nothing", async () => {
    const asked: string[] = [];
    signedIn(member("dev", "developer"), (address) => {
      asked.push(address.pathname);
      return json({ items: [], next_cursor: null });
    });
    show();
    expect(await screen.findByText("Only workspace admins manage webhooks.", {}, FIRST)).toBeInTheDocument();
    expect(asked.some((path) => path.includes("webhooks"))).toBe(false);
  });
});
