import { describe, expect, it } from "vitest";
import { launchActions, publishQuestion } from "./Launches";

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
