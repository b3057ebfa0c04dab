import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { HostKit } from "./Apps";
import { pythonSnippet, typescriptSnippet } from "./hostKit";

describe("the host kit's snippet on a host app's page", () => {
  it("fills in this platform and the app's key, in TypeScript and Python", async () => {
    render(<HostKit keyId="mak_abc123" />);
    const shown = () => ({ textContent: screen.getAllByTestId("host-kit-snippet").map((element) => element.textContent).join("\n") });
    expect(shown().textContent).toContain('keyId: "mak_abc123"');
    expect(shown().textContent).toContain(`baseUrl: "${window.location.origin}"`);
    expect(shown().textContent).toContain("client.sentryDsn(");
    await userEvent.click(screen.getByRole("tab", { name: "Python" }));
    expect(shown().textContent).toContain('key_id="mak_abc123"');
    expect(shown().textContent).toContain("client.download(item)");
  });

  it("is a complete host integration in under 30 lines", () => {
    for (const snippet of [typescriptSnippet({ baseUrl: "https://x.test", keyId: "mak_1" }), pythonSnippet({ baseUrl: "https://x.test", keyId: "mak_1" })]) {
      expect(snippet.trim().split("\n").length).toBeLessThan(30);
    }
  });

  it("says where the key goes while the app has none", () => {
    render(<HostKit />);
    expect(screen.getAllByTestId("host-kit-snippet")[0].textContent).toContain('"mak_..."');
  });
});
