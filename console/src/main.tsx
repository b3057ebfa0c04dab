import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { App as AntApp, ConfigProvider } from "antd";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import { ApiError } from "./api/client";
import { Routes } from "./routes";
import "./index.css";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not get better by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

// A tab opened before the console was rebuilt asks for page files that are gone; loading the page
// again brings the new index.html, which names the new files. At most once a minute, so that files
// missing for another reason do not reload the page forever.
window.addEventListener("vite:preloadError", () => {
  const reloadedAt = Number(sessionStorage.getItem("mpdp.reloaded_at"));
  if (Date.now() - reloadedAt < 60_000) return;
  sessionStorage.setItem("mpdp.reloaded_at", String(Date.now()));
  window.location.reload();
});

// Ant Design animates every dialog and message; someone who asked their system for less motion
// gets none (a dialog then opens and closes at once, which also makes the console's browser tests
// independent of animation timing on a loaded machine).
const reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ConfigProvider theme={{ token: { colorPrimary: "#1677ff", borderRadius: 6, motion: !reducedMotion } }}>
      <AntApp>
        <QueryClientProvider client={queries}>
          <BrowserRouter>
            <Routes />
          </BrowserRouter>
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  </StrictMode>,
);
