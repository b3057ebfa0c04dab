import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { describe, expect, it } from "vitest";
import { NotFound } from "./NotFound";

describe("the not-found page", () => {
  it("leads back to the workspaces list", async () => {
    render(
      <MemoryRouter initialEntries={["/no/such/page"]}>
        <Routes>
          <Route path="/workspaces" element={<h1>All workspaces</h1>} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </MemoryRouter>,
    );
    expect(screen.getByText("Nothing here")).toBeInTheDocument();
    await userEvent.tab();
    const back = screen.getByRole("link", { name: "Your workspaces" });
    expect(back).toHaveFocus();
    expect(back).toHaveAttribute("href", "/workspaces");
    await userEvent.click(back);
    expect(await screen.findByRole("heading", { name: "All workspaces" })).toBeInTheDocument();
  });
});
