import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { json, member, renderAt, signedIn } from "../test/console";
import { DeliveryCheck } from "./Apps";

describe("a host app's delivery check", () => {
  beforeEach(() => sessionStorage.clear());
  afterEach(() => vi.unstubAllGlobals());

  it("asks what the app delivers to one user and shows each mini program's version and why", async () => {
    const asked: string[] = [];
    signedIn(member("dev", "developer"), (address) => {
      if (address.pathname.endsWith("/delivery")) {
        asked.push(address.search);
        const item = { miniprogram_id: "mp1", name: "Coffee", version: "2.0.0", version_id: "v2", channel: "grayscale", package_url: "/x", sha256: "0", size: 1 };
        return json({ items: address.searchParams.get("user_id") === "ada" ? [item] : [] });
      }
      return json({ items: [{ id: "mp1", name: "Coffee" }], next_cursor: null });
    });
    renderAt("/workspaces/ws1/apps/app1", "/workspaces/:ws/apps/:app", <DeliveryCheck app="app1" />);
    await userEvent.type(screen.getByLabelText("User ID"), "ada");
    await userEvent.type(screen.getByLabelText("Host version"), "8.2.0");
    await userEvent.click(screen.getByRole("button", { name: "Check" }));
    expect(await screen.findByRole("link", { name: "Coffee" })).toHaveAttribute("href", "/workspaces/ws1/miniprograms/mp1/launches");
    expect(screen.getByText("2.0.0")).toBeInTheDocument();
    expect(screen.getByText("grayscale")).toBeInTheDocument();
    expect(asked).toEqual(["?user_id=ada&host_version=8.2.0"]);

    await userEvent.clear(screen.getByLabelText("User ID"));
    await userEvent.type(screen.getByLabelText("User ID"), "bob");
    await userEvent.click(await screen.findByRole("button", { name: /Check/ }));
    expect(await screen.findByText("Nothing is delivered to bob on this app yet.")).toBeInTheDocument();
  });
});
