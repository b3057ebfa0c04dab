import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App as AntApp } from "antd";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Issue } from "../api/types";
import { Issues } from "./Quality";

const issue = (id: string, title: string, count: number): Issue => ({
  id,
  miniprogram_id: "mp1",
  title,
  count,
  culprit: "",
  level: "error",
  users: 1,
  status: "unresolved",
  regressed: false,
  versions: ["1.0.0"],
  first_seen: "2026-11-20T10:00:00Z",
  last_seen: "2026-11-27T10:00:00Z",
});

/** The issues list of the telemetry service: two pages in every order, the busiest first by events. */
function serve() {
  const asked: URLSearchParams[] = [];
  vi.stubGlobal("fetch", async (url: string) => {
    const query = new URL(url, "http://console").searchParams;
    asked.push(query);
    const items = query.get("sort") === "events" ? [issue("i2", "TypeError: busy", 40)] : [issue("i1", "RangeError: latest", 2)];
    const page = query.get("cursor") ? { items: [issue("i3", "Error: older", 1)], next_cursor: null } : { items, next_cursor: `${query.get("sort")}-cursor` };
    return new Response(JSON.stringify(page), { status: 200, headers: { "Content-Type": "application/json" } });
  });
  return asked;
}

function show() {
  return render(
    <AntApp>
      <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
        <MemoryRouter>
          <Issues ws="ws1" miniprogramId="mp1" />
        </MemoryRouter>
      </QueryClientProvider>
    </AntApp>,
  );
}

async function orderBy(label: string) {
  fireEvent.mouseDown(within(screen.getByText("Issues").closest(".ant-card") as HTMLElement).getByRole("combobox", { name: "Order issues by" }));
  await userEvent.click(await screen.findByTitle(label));
}

describe("the issues list", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("shows the latest crashes first, and the busiest when ordered by events, from its first page", async () => {
    const asked = serve();
    show();
    expect(await screen.findByText("RangeError: latest")).toBeInTheDocument();
    expect(asked[0].get("sort")).toBe("last_seen");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByText("Error: older")).toBeInTheDocument();
    expect(asked.at(-1)?.get("cursor")).toBe("last_seen-cursor");

    await orderBy("Most events");
    expect(await screen.findByText("TypeError: busy")).toBeInTheDocument();
    // a cursor of the latest-crash order is no cursor of this one: the list starts again
    await waitFor(() => expect(asked.at(-1)?.get("sort")).toBe("events"));
    expect(asked.filter((query) => query.get("sort") === "events").every((query) => !query.get("cursor"))).toBe(true);
    expect(screen.getByText("Page 1")).toBeInTheDocument();
  });
});
