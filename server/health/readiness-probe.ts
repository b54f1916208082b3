/**
 * The container HEALTHCHECK: asks this server's /readyz and exits 0 when it
 * answers 200, 1 otherwise. A few lines of Node instead of a grpc_health_probe
 * binary, so the image needs nothing downloaded at build time.
 *
 * Usage: node dist/server/health/readiness-probe.js   (reads PORT and TLS_CERT like the server)
 */
import http from "node:http";
import https from "node:https";

const port = Number(process.env["PORT"] ?? "50051");
const tls = (process.env["TLS_CERT"] ?? "") !== "";
/** Below Docker's default HEALTHCHECK timeout, so a hung server reads as unhealthy rather than as a probe timeout. */
const timeoutMs = 3000;

// The server checks its own certificate's name against clients, not this probe: it is talking to itself on loopback.
const request = (tls ? https : http).get(
  { host: "127.0.0.1", port, path: "/readyz", timeout: timeoutMs, ...(tls ? { rejectUnauthorized: false } : {}) },
  (res) => {
    res.resume();
    process.exitCode = res.statusCode === 200 ? 0 : 1;
    if (res.statusCode !== 200) process.stderr.write(`readyz answered ${res.statusCode}\n`);
  },
);
request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
request.on("error", (error) => {
  process.stderr.write(`readyz failed: ${error.message}\n`);
  process.exitCode = 1;
});
