import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { StackTrace } from "./Quality";

const resolved = {
  filename: "src/pages/index/index.js",
  function: "checkout",
  lineno: 12,
  colno: 5,
  pre_context: ["function checkout(cart) {", "  const total = sum(cart);"],
  context_line: "  return total.toFixed(2);",
  post_context: ["}"],
  raw: { filename: "pages/index/index.js", function: "c", lineno: 1, colno: 1234 },
};

describe("a crash's stack trace", () => {
  it("reads in the original source with its lines around, and switches to the minified frame", async () => {
    render(
      <MemoryRouter>
        <StackTrace frames={[resolved]} />
      </MemoryRouter>,
    );
    const trace = screen.getByTestId("stack-trace");
    expect(trace.textContent).toContain("at checkout (src/pages/index/index.js:12:5)");
    expect(screen.getByTestId("frame-line").textContent).toBe("12  return total.toFixed(2);");
    expect(trace.textContent).toContain("10function checkout(cart) {");
    await userEvent.click(screen.getByText("Minified"));
    expect(screen.getByTestId("stack-trace").textContent).toBe("at c (pages/index/index.js:1:1234)");
    await userEvent.click(screen.getByText("Original source"));
    expect(screen.getByTestId("stack-trace").textContent).toContain("checkout (src/pages/index/index.js:12:5)");
  });

  it("says how to read a minified trace in its source when no map resolved it", () => {
    render(
      <MemoryRouter>
        <StackTrace frames={[resolved.raw]} />
      </MemoryRouter>,
    );
    expect(screen.getByText(/upload the version's source maps/)).toBeTruthy();
    expect(screen.queryByText("Minified")).toBeNull();
  });
});
