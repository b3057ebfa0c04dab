import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Launch } from "../api/types";
import { CohortHeatmap, LineChart, releaseMarkers, segments } from "./Charts";

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

const step = (status: Launch["status"], at: string, percentage: number | null = null) => ({ status, at, by: "u1", percentage, reason: null, figures: null });

describe("releaseMarkers", () => {
  it("marks a launch's first grayscale, its release and a halt, oldest first, naming version and host app", () => {
    const launch = {
      version: "1.1.0",
      app_id: "app1",
      history: [
        step("created", "2026-11-01T08:00:00Z"),
        step("grayscale", "2026-11-02T09:00:00Z", 1),
        step("grayscale", "2026-11-03T09:00:00Z", 5),
        step("halted", "2026-11-03T12:00:00Z", 5),
        step("released", "2026-11-05T10:00:00Z", 100),
      ],
    } as Launch;
    const older = { version: "1.0.0", app_id: "app1", history: [step("released", "2026-10-20T10:00:00Z", 100)] } as Launch;
    expect(releaseMarkers([launch, older], (id) => (id === "app1" ? "Super App" : id))).toEqual([
      { date: "2026-10-20", text: "1.0.0 released on Super App" },
      { date: "2026-11-02", text: "1.1.0 grayscale to 1% on Super App" },
      { date: "2026-11-03", text: "1.1.0 halted on Super App" },
      { date: "2026-11-05", text: "1.1.0 released on Super App" },
    ]);
  });
});

describe("LineChart's markers", () => {
  it("draws one line a day a release reached users, with every release of that day in its tooltip", () => {
    const { getAllByTestId } = render(
      <LineChart
        labels={["2026-11-01", "2026-11-02", "2026-11-03"]}
        lines={[{ name: "Sessions", values: [3, 4, 5] }]}
        markers={[
          { date: "2026-11-02", text: "1.1.0 released on Super App" },
          { date: "2026-11-02", text: "2.0.0 grayscale to 5% on Mall" },
          { date: "2026-10-01", text: "before the range: not drawn" },
        ]}
      />,
    );
    const markers = getAllByTestId("release-marker");
    expect(markers).toHaveLength(1);
    expect(markers[0].querySelector("title")).toHaveTextContent("2026-11-02: 1.1.0 released on Super App; 2.0.0 grayscale to 5% on Mall");
  });
});

describe("LineChart's numbers", () => {
  it("says there is no data when every day is null, rather than drawing zeros", () => {
    render(<LineChart labels={["2026-11-01", "2026-11-02"]} lines={[{ name: "Seconds per session", values: [null, null] }]} />);
    expect(screen.getByText("No data in this date range yet.")).toBeInTheDocument();
  });

  it("gives a small scale ticks that read differently", () => {
    const { container } = render(<LineChart labels={["2026-11-01", "2026-11-02"]} lines={[{ name: "Sessions", values: [0, 1] }]} />);
    const ticks = [...container.querySelectorAll("svg > g > text")].map((text) => text.textContent);
    expect(ticks).toEqual(["0", "0.5", "1"]);
  });
});

describe("CohortHeatmap", () => {
  it("shows each day's share of the cohort", () => {
    render(<CohortHeatmap cohorts={[{ cohort_date: "2026-11-01", users: 4, retained: [4, 1, 0] }]} />);
    expect(screen.getByText("100%")).toBeInTheDocument();
    expect(screen.getByText("25%")).toBeInTheDocument();
    expect(screen.getByText("Day 2")).toBeInTheDocument();
  });

  it("shows a dash, not 0%, for a day without new users", () => {
    render(<CohortHeatmap cohorts={[{ cohort_date: "2026-11-01", users: 0, retained: [0, 0] }]} />);
    expect(screen.queryByText("0%")).not.toBeInTheDocument();
    expect(screen.getAllByText("—")).toHaveLength(2);
  });

  it("leaves the days that have not come yet empty rather than 0%", () => {
    render(<CohortHeatmap cohorts={[{ cohort_date: "2026-11-01", users: 4, retained: [4, null] }]} />);
    expect(screen.getByText("100%")).toBeInTheDocument();
    expect(screen.queryByText("0%")).not.toBeInTheDocument();
    expect(screen.getByTitle("Day 1 has not come yet")).toHaveTextContent("");
  });
});
