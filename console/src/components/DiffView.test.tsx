import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { changesOf, DiffView, diffTokens, diffValues } from "./DiffView";

describe("diffTokens", () => {
  it("keeps what is common and marks what was removed and added", () => {
    const pieces = diffTokens("ask where the user is".split(" "), "ask where the phone is".split(" "));
    expect(pieces).toEqual([
      { kind: "same", text: "askwherethe" },
      { kind: "removed", text: "user" },
      { kind: "added", text: "phone" },
      { kind: "same", text: "is" },
    ]);
  });

  it("is all added from nothing", () => {
    expect(diffTokens([], ["a", "b"])).toEqual([{ kind: "added", text: "ab" }]);
  });
});

describe("diffValues", () => {
  it("compares lists item by item", () => {
    expect(diffValues(["a", "b"], ["b", "c"])).toEqual([
      { kind: "removed", text: "a" },
      { kind: "same", text: "b" },
      { kind: "added", text: "c" },
    ]);
  });

  it("says none for an empty list", () => {
    expect(diffValues(null, [])).toEqual([{ kind: "same", text: "none" }]);
  });

  it("shows a changed flag as old and new", () => {
    expect(diffValues(true, false)).toEqual([
      { kind: "removed", text: "yes" },
      { kind: "added", text: "no" },
    ]);
  });

  it("shows a first value as added only", () => {
    expect(diffValues(null, "direct")).toEqual([{ kind: "added", text: "direct" }]);
  });
});

describe("DiffView", () => {
  it("renders each field's change, with user text as text and never as HTML", () => {
    const { container } = render(
      <DiffView
        labels={{ description: "Description" }}
        changes={{ description: { old: "plain", new: "<img src=x onerror=alert(1)>" }, activation: { old: "direct", new: "approval" } }}
      />,
    );
    expect(screen.getByTestId("diff-description")).toHaveTextContent("Description:");
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("<img", { exact: false })).toHaveClass("diff-added");
    expect(screen.getByText("plain")).toHaveClass("diff-removed");
    expect(screen.getByText("approval")).toHaveClass("diff-added");
  });
});

describe("changesOf", () => {
  it("keeps each field's {old, new} and leaves out a value of another shape", () => {
    expect(changesOf({ name: { old: "Maps", new: "Location" }, revision: 3, description: null })).toEqual({ name: { old: "Maps", new: "Location" } });
  });
});
