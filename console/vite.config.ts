/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the console on :3000 and sends API calls to a running platform.
const gateway = process.env.MPDP_GATEWAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 3000,
    proxy: Object.fromEntries(["/api", "/.well-known", "/ingest", "/client"].map((prefix) => [prefix, gateway])),
  },
  build: {
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        // the libraries change far less often than the console: a separate file stays cached
        manualChunks: (id: string) => (id.includes("node_modules") ? "vendor" : undefined),
      },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    // antd under jsdom is slow on a busy machine
    testTimeout: 30_000,
  },
});
