import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { UserService } from "../gen/user/user_pb.js";
import { createHealthRegistry } from "../server/health/health-registry.js";
import { createHealthService } from "../server/services/health-service.js";
import { watchHealth, type HealthState } from "./health-watcher.js";
import { startStubServer, type StubServer } from "./test-support/stub-server.js";

const options = { service: "", reconnectInitialMs: 50, reconnectMaxMs: 200, pollIntervalMs: 50, checkTimeoutMs: 1000 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function follow(url: string, protocol: "grpc" | "connect" = "grpc") {
  const transport = protocol === "grpc" ? createGrpcTransport({ baseUrl: url }) : createConnectTransport({ baseUrl: url, httpVersion: "2" });
  const seen: { state: HealthState; detail: string }[] = [];
  const controller = new AbortController();
  const done = watchHealth(transport, options, (state, detail) => seen.push({ state, detail }), controller.signal);
  cleanups.push(async () => {
    controller.abort();
    await done;
  });
  const last = () => seen.at(-1)?.state;
  const until = async (state: HealthState) => {
    const deadline = Date.now() + 5000;
    while (last() !== state) {
      if (Date.now() > deadline) throw new Error(`never became ${state}; saw ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { seen, until };
}

async function healthServer(port = 0): Promise<{ server: StubServer; registry: ReturnType<typeof createHealthRegistry> }> {
  const registry = createHealthRegistry();
  const server = await startStubServer((router) => router.service(Health, createHealthService(registry)), port);
  cleanups.push(() => server.kill());
  return { server, registry };
}

describe("watchHealth", () => {
  it.each(["grpc", "connect"] as const)("follows Watch (%s) as the server's status changes", async (protocol) => {
    const { server, registry } = await healthServer();
    const watch = follow(server.url, protocol);
    await watch.until("serving");
    registry.set("", "NOT_SERVING");
    await watch.until("not-serving");
    registry.set("", "SERVING");
    await watch.until("serving");
    expect(watch.seen.map((s) => s.state)).toEqual(["serving", "not-serving", "serving"]);
    expect(server.requests.filter((r) => r === "grpc.health.v1.Health/Watch")).toHaveLength(1);
  });

  it("marks a killed server unreachable and sees it serving again after a restart on the same port", async () => {
    const first = await healthServer();
    const watch = follow(first.server.url);
    await watch.until("serving");
    await first.server.kill();
    await watch.until("unreachable");
    const again = await healthServer(first.server.port);
    await watch.until("serving");
    expect(again.server.requests).toContain("grpc.health.v1.Health/Watch");
  });

  it("polls with Check when the server does not implement Watch", async () => {
    const registry = createHealthRegistry();
    const server = await startStubServer((router) =>
      router.service(Health, {
        check: () => ({ status: registry.get("") === "SERVING" ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING }),
      }),
    );
    cleanups.push(() => server.kill());
    const watch = follow(server.url);
    await watch.until("serving");
    registry.set("", "NOT_SERVING");
    await watch.until("not-serving");
    expect(server.requests.filter((r) => r.endsWith("/Check")).length).toBeGreaterThanOrEqual(2);
  });

  it("counts a server without any health service as serving, since it answers", async () => {
    const server = await startStubServer((router) => router.service(UserService, {}));
    cleanups.push(() => server.kill());
    const watch = follow(server.url);
    await watch.until("serving");
    expect(watch.seen[0]?.detail).toMatch(/not implemented/);
  });
});
