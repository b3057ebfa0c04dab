import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { PercentageControl, clampPercentage } from "./PercentageControl";

describe("clampPercentage", () => {
  it("keeps whole numbers between the minimum and 100", () => {
    expect(clampPercentage(150)).toBe(100);
    expect(clampPercentage(0)).toBe(1);
    expect(clampPercentage(33.6)).toBe(34);
    expect(clampPercentage(null, 20)).toBe(20);
    expect(clampPercentage(10, 20)).toBe(20);
  });
});

function Harness({ min }: { min?: number }) {
  const [value, setValue] = useState(min ?? 10);
  return <PercentageControl value={value} onChange={setValue} min={min} />;
}

describe("PercentageControl", () => {
  it("says whether the publish is grayscale or a full release", () => {
    render(<Harness />);
    expect(screen.getByTestId("percentage-meaning")).toHaveTextContent("Grayscale: about 10% of users");
    const input = screen.getByLabelText("Percentage of users");
    fireEvent.change(input, { target: { value: "100" } });
    expect(screen.getByTestId("percentage-meaning")).toHaveTextContent("Full release");
  });

  it("does not let a grayscale launch narrow below its current share", () => {
    render(<Harness min={40} />);
    const input = screen.getByLabelText("Percentage of users");
    fireEvent.change(input, { target: { value: "5" } });
    fireEvent.blur(input);
    expect(screen.getByTestId("percentage-meaning")).toHaveTextContent("about 40% of users");
  });
});
