import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API serves the build at /ui/ (service/api/ui.py). `npm run dev` proxies API calls to a
// local `countersign serve` on port 8123.
const API = "http://127.0.0.1:8123";

export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  server: {
    proxy: {
      "^/(inbox|policies|audit|threads|runs|assistants|tenant)(/|$|\\?)": API,
    },
  },
});
