import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { CohortHeatmap, LineChart, segments } from "./Charts";

describe("segments", () => {
  it("breaks a line where a day has no figure", () => {
    expect(segments([1, 2, null, 4, null])).toEqual([
      [
        [0, 1],
        [1, 2],
      ],
      [[3, 4]],
    ]);
    expect(segments([null, null])).toEqual([]);
  });
});

describe("LineChart", () => {
  it("draws one point per day with its value, and says so when there is no data", () => {
    const { container, rerender } = render(<LineChart labels={["2026-11-01", "2026-11-02"]} lines={[{ name: "Sessions", values: [3, null] }]} />);
    expect(screen.getByRole("img", { name: "Sessions" })).toBeInTheDocument();
    expect(container.querySelectorAll("circle")).toHaveLength(1);
    expect(container.querySelector("circle title")).toHaveTextContent("Sessions on 2026-11-01: 3");
    rerender(<LineChart labels={[]} lines={[]} />);
    expect(screen.getByText("No data in this date range yet.")).toBeInTheDocument();
  });
});

describe("CohortHeatmap", () => {
  it("shows each day's share of the cohort", () => {
    render(<CohortHeatmap cohorts={[{ cohort_date: "2026-11-01", users: 4, retained: [4, 1, 0] }]} />);
    expect(screen.getByText("100%")).toBeInTheDocument();
    expect(screen.getByText("25%")).toBeInTheDocument();
    expect(screen.getByText("Day 2")).toBeInTheDocument();
  });

  it("leaves the days that have not come yet empty rather than 0%", () => {
    render(<CohortHeatmap cohorts={[{ cohort_date: "2026-11-01", users: 4, retained: [4, null] }]} />);
    expect(screen.getByText("100%")).toBeInTheDocument();
    expect(screen.queryByText("0%")).not.toBeInTheDocument();
    expect(screen.getByTitle("Day 1 has not come yet")).toHaveTextContent("");
  });
});
