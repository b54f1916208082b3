import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { UserService } from "../gen/user/user_pb.js";
import { createHealthRegistry } from "../server/health/health-registry.js";
import { createHealthService } from "../server/services/health-service.js";
import { defaultKeepalive, type ConnectionOptions } from "./backend-connection.js";
import { checkConnection } from "./check-connection.js";
import { startStubServer, type StubServer } from "./test-support/stub-server.js";

const grpc: ConnectionOptions = { protocol: "grpc", httpVersion: "2", useBinaryFormat: true, keepalive: defaultKeepalive };
const servers: StubServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.kill();
});

describe("checkConnection", () => {
  it("reports SERVING and NOT_SERVING from the health service", async () => {
    const registry = createHealthRegistry();
    const server = await startStubServer((router) => router.service(Health, createHealthService(registry)));
    servers.push(server);
    expect(await checkConnection(server.url, grpc, { timeoutMs: 2000 })).toMatchObject({ url: server.url, connected: true, status: "SERVING" });
    registry.set("", "NOT_SERVING");
    expect(await checkConnection(server.url, { ...grpc, protocol: "connect", useBinaryFormat: false }, { timeoutMs: 2000 })).toMatchObject({
      connected: true,
      status: "NOT_SERVING",
    });
    const unknown = await checkConnection(server.url, grpc, { timeoutMs: 2000, service: "no.Such" });
    expect(unknown).toMatchObject({ connected: true, status: "SERVICE_UNKNOWN" });
  });

  it("says UNIMPLEMENTED for a server without a health service, which still answered", async () => {
    const server = await startStubServer((router) => router.service(UserService, {}));
    servers.push(server);
    expect(await checkConnection(server.url, grpc, { timeoutMs: 2000 })).toMatchObject({ connected: true, status: "UNIMPLEMENTED" });
  });

  it("explains an unreachable address", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const report = await checkConnection(url, grpc, { timeoutMs: 2000 });
    expect(report).toMatchObject({ connected: false, status: "UNREACHABLE" });
    expect(report.error?.code).toBe("UNAVAILABLE");
    expect(report.error?.suggestions[0]).toBe("Check that the server is running");
  });

  it("fails with DEADLINE_EXCEEDED when the server accepts but never answers", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const report = await checkConnection(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, grpc, { timeoutMs: 200 });
      expect(report).toMatchObject({ connected: false, status: "UNREACHABLE" });
      expect(report.error?.code).toBe("DEADLINE_EXCEEDED");
    } finally {
      silent.close();
    }
  });
});
