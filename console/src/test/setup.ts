import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(cleanup);

// antd's responsive pieces ask matchMedia, which jsdom does not have: the tests see a desktop's
// window, 1280 px wide, as width queries go.
const WIDTH = 1280;
function widthMatches(query: string): boolean {
  const min = /min-width:\s*(\d+)px/.exec(query);
  const max = /max-width:\s*(\d+)px/.exec(query);
  return (!min || WIDTH >= Number(min[1])) && (!max || WIDTH <= Number(max[1])) && (!!min || !!max);
}
Object.defineProperty(window, "matchMedia", {
  writable: true,
  value: (query: string) => ({
    matches: widthMatches(query),
    media: query,
    onchange: null,
    addListener: () => {},
    removeListener: () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dispatchEvent: () => false,
  }),
});
// antd's tables and upload measure themselves.
window.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};
window.getComputedStyle = ((original) => (element: Element) => original(element))(window.getComputedStyle);
