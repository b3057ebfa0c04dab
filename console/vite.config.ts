/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { precompress } from "./precompress.ts";

// `npm run dev` serves the console on :3000 and sends API calls to a running platform.
const gateway = process.env.MPDP_GATEWAY ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react(), precompress()],
  server: {
    port: 3000,
    proxy: Object.fromEntries(["/api", "/.well-known", "/ingest", "/client"].map((prefix) => [prefix, gateway])),
  },
  build: {
    // the largest file is the libraries the sign-in page needs; a bigger one means something grew
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      output: {
        // Pages are fetched when first shown (routes.tsx); the libraries are split from the console,
        // which changes far more often, so that browsers keep them cached.
        codeSplitting: {
          groups: [
            // React and the router, the same for every page
            { name: "react", test: /node_modules[\\/](react|react-dom|react-router|react-router-dom|scheduler)[\\/]/, priority: 2 },
            // the other libraries the sign-in page needs; what only later pages use goes with them
            { name: "vendor", test: /node_modules[\\/]/, tags: ["$initial"], priority: 1 },
          ],
        },
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
