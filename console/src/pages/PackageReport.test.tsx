import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Version } from "../api/types";
import { json, member, renderAt, signedIn } from "../test/console";
import { PackageReport } from "./MiniPrograms";

const report: NonNullable<Version["report"]> = {
  size: 2048,
  files: 4,
  pages: [{ page: "pages/index/index", size: 1024 }],
  jsapis_used: ["getLocation", "showToast"],
  jsapis_not_granted: ["getLocation"],
  sourcemaps: ["pages/index/index.js.map"],
  warnings: ["big.js is 5000000 bytes, over the 4194304 bytes a file may have to be parsed; its JSAPI calls are not counted."],
};

describe("a version's package report", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("shows the pages with their sizes, the JSAPIs used, those not granted, the maps and the warnings", () => {
    render(<PackageReport report={report} />);
    expect(screen.getByText(/pages\/index\/index ·/)).toBeTruthy();
    expect(screen.getByText("my.getLocation").closest(".ant-tag")?.className).toContain("red");
    expect(screen.getByText("my.showToast").closest(".ant-tag")?.className).not.toContain("red");
    expect(screen.getByText(/Not granted to this mini program at upload: getLocation/)).toBeTruthy();
    expect(screen.getByText("pages/index/index.js.map")).toBeTruthy();
    expect(screen.getByText(/big.js is 5000000 bytes/)).toBeTruthy();
  });

  it("requests, in a click, the feature that grants a JSAPI not granted", async () => {
    const requested: unknown[] = [];
    signedIn(member("dev", "developer"), (address, init) => {
      const path = address.pathname;
      if (path.endsWith("/jsapis")) return json({ items: [{ id: "j1", name: "getLocation" }, { id: "j2", name: "scanCode" }], next_cursor: null });
      if (path.endsWith("/miniprograms/mp1/features") && init.method === "POST") {
        requested.push(JSON.parse(String(init.body)));
        return json({ feature_id: "f1", status: "pending_approval" }, 201);
      }
      if (path.endsWith("/features")) {
        const feature = (id: string, name: string, jsapi_ids: string[]) => ({ id, name, jsapi_ids });
        return json({ items: [feature("f1", "Maps", ["j1"]), feature("f2", "Scanner", ["j2"])], next_cursor: null });
      }
      return json({ items: [], next_cursor: null });
    });
    renderAt("/workspaces/ws1/miniprograms/mp1/versions", "/workspaces/:ws/miniprograms/:mp/versions", <PackageReport report={report} mp="mp1" />);
    const request = await screen.findByRole("button", { name: "Request Maps (getLocation)" });
    expect(screen.queryByRole("button", { name: /Scanner/ })).toBeNull();
    await userEvent.click(request);
    await waitFor(() => expect(requested).toEqual([{ feature_id: "f1" }]));
    expect(await screen.findByRole("button", { name: "Maps requested (getLocation)" })).toHaveProperty("disabled", true);
  });
});
