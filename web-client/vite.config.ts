import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
/** Where `npm run dev:web` sends RPCs; the Fastify host runs there (`npm run dev`). */
const target = process.env["USERS_URL"] ?? "http://localhost:50051";
/** Connect, gRPC-Web and health paths all start with a package name followed by a dot. */
const rpcPaths = ["/user.", "/grpc.", "/healthz", "/readyz"];

/** Bundles web-client/ into web-client/dist, which the server serves at /; the dev server proxies RPCs to a running server. */
export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  clearScreen: false,
  logLevel: "warn",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
  server: {
    port: 5173,
    strictPort: false,
    proxy: Object.fromEntries(rpcPaths.map((prefix) => [prefix, { target, changeOrigin: true }])),
  },
});
