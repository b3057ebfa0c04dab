import { describe, expect, it } from "vitest";
import { launchActions } from "./Launches";

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
