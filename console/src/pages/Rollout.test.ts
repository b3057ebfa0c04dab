import { describe, expect, it } from "vitest";
import type { Launch } from "../api/types";
import { haltReason, holdLabel, planBody, share } from "./Rollout";

describe("planBody", () => {
  it("asks for the preset, without a guard when no floor is given", () => {
    expect(planBody({ kind: "preset", crash_free_sessions: null, min_sessions: 500 })).toEqual({ preset: "phased_7_days" });
  });

  it("sends custom steps' holds in seconds and the floor as a share from 0 to 1", () => {
    expect(
      planBody({
        kind: "custom",
        steps: [
          { percentage: 10, hold_hours: 1.5 },
          { percentage: 100, hold_hours: 0 },
        ],
        crash_free_sessions: 99.9,
        min_sessions: 500,
      }),
    ).toEqual({
      steps: [
        { percentage: 10, hold_seconds: 5400 },
        { percentage: 100, hold_seconds: 0 },
      ],
      guard: { min_crash_free_sessions: 0.999, min_sessions: 500 },
    });
  });

  it("leaves the minimum of sessions to the platform's default when none is given", () => {
    expect(planBody({ kind: "preset", crash_free_sessions: 99 })).toEqual({ preset: "phased_7_days", guard: { min_crash_free_sessions: 0.99 } });
  });
});

describe("holdLabel and share", () => {
  it("reads holds in the largest whole unit", () => {
    expect(holdLabel(86400)).toBe("1 day");
    expect(holdLabel(3 * 86400)).toBe("3 days");
    expect(holdLabel(7200)).toBe("2 h");
    expect(holdLabel(90)).toBe("90 s");
    expect(holdLabel(0)).toBe("no hold");
  });

  it("shows shares as percentages, and a dash without figures", () => {
    expect(share(0.9951)).toBe("99.51%");
    expect(share(1)).toBe("100%");
    expect(share(null)).toBe("—");
  });
});

describe("haltReason", () => {
  const step = (status: Launch["status"], by: string, reason: string | null = null): Launch["history"][number] => ({ status, by, reason, at: "2026-12-01T00:00:00Z", percentage: 5, figures: null });

  it("gives the guard's reason for its latest halt", () => {
    expect(haltReason([step("grayscale", "rollout"), step("halted", "guard", "crash-free sessions 0.95 < 0.99")])).toBe("crash-free sessions 0.95 < 0.99");
  });

  it("gives none when the launch was not halted by the guard since", () => {
    expect(haltReason([step("grayscale", "rollout")])).toBeNull();
    expect(haltReason([step("halted", "guard", "old"), step("grayscale", "acc-1"), step("halted", "acc-1")])).toBeNull();
  });
});
