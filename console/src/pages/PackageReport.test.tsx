import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { PackageReport } from "./MiniPrograms";

describe("a version's package report", () => {
  it("shows the pages with their sizes, the JSAPIs used, those not granted, the maps and the warnings", () => {
    render(
      <PackageReport
        report={{
          size: 2048,
          files: 4,
          pages: [{ page: "pages/index/index", size: 1024 }],
          jsapis_used: ["getLocation", "showToast"],
          jsapis_not_granted: ["getLocation"],
          sourcemaps: ["pages/index/index.js.map"],
          warnings: ["big.js is 5000000 bytes, over the 4194304 bytes a file may have to be parsed; its JSAPI calls are not counted."],
        }}
      />,
    );
    expect(screen.getByText(/pages\/index\/index ·/)).toBeTruthy();
    expect(screen.getByText("my.getLocation").closest(".ant-tag")?.className).toContain("red");
    expect(screen.getByText("my.showToast").closest(".ant-tag")?.className).not.toContain("red");
    expect(screen.getByText(/Not granted to this mini program at upload: getLocation/)).toBeTruthy();
    expect(screen.getByText("pages/index/index.js.map")).toBeTruthy();
    expect(screen.getByText(/big.js is 5000000 bytes/)).toBeTruthy();
  });
});
