import { describe, expect, it } from "vitest";
import type { Launch } from "../api/types";
import { changesByItself, launchActions, onHostApps, publishQuestion, stateLabel } from "./Launches";

describe("launchActions", () => {
  it("offers each status its next steps only", () => {
    expect(launchActions("created")).toEqual(["submit", "cancel"]);
    expect(launchActions("under_review")).toEqual(["withdraw"]);
    expect(launchActions("ready")).toEqual(["publish", "cancel"]);
    expect(launchActions("grayscale")).toEqual(["publish", "cancel"]);
    // a halted launch is published again, or canceled, by a person
    expect(launchActions("halted")).toEqual(["publish", "cancel"]);
    expect(launchActions("released")).toEqual([]);
    expect(launchActions("canceled")).toEqual([]);
    expect(launchActions("rollback")).toEqual([]);
  });
});

describe("publishQuestion", () => {
  it("names the version, the share and the host app", () => {
    expect(publishQuestion("1.2.0", "Super App", 20)).toBe("Publish 1.2.0 to 20% of the users of Super App?");
    expect(publishQuestion("1.2.0", "Super App", 100)).toBe("Release 1.2.0 to every user of Super App?");
  });
});

const launch = (id: string, app_id: string, version: string, status: Launch["status"], percentage: number | null = null, rollout: Launch["rollout"] = null) =>
  ({ id, app_id, version, version_id: `v-${version}`, status, percentage, rollout, history: [] }) as unknown as Launch;

describe("onHostApps", () => {
  it("gives each host app what is on it or on its way, released first, and leaves out the ended launches", () => {
    const byApp = onHostApps([
      launch("l1", "super", "1.1.0", "grayscale", 20),
      launch("l2", "super", "1.0.0", "released", 100),
      launch("l3", "super", "0.9.0", "archived", 100),
      launch("l4", "mall", "1.2.0", "under_review"),
      launch("l5", "mall", "1.1.0", "canceled"),
    ]);
    expect([...byApp.keys()]).toEqual(["super", "mall"]);
    expect(byApp.get("super")?.map((item) => `${item.version} ${stateLabel(item)}`)).toEqual(["1.0.0 released", "1.1.0 grayscale 20%"]);
    expect(byApp.get("mall")?.map(stateLabel)).toEqual(["under review"]);
  });
});

describe("changesByItself", () => {
  it("is true while a review, a running plan or a guarded grayscale may move the launch", () => {
    expect(changesByItself(launch("l", "a", "1", "under_review"))).toBe(true);
    expect(changesByItself(launch("l", "a", "1", "grayscale", 5, { state: "running" } as Launch["rollout"]))).toBe(true);
    expect(changesByItself(launch("l", "a", "1", "grayscale", 5))).toBe(false);
    expect(changesByItself(launch("l", "a", "1", "released", 100))).toBe(false);
  });
});
