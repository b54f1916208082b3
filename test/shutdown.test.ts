/**
 * Graceful shutdown of a real server process: SIGTERM turns health
 * NOT_SERVING, refuses new connections, lets the in-flight unary call finish,
 * ends open streams with UNAVAILABLE after SHUTDOWN_TIMEOUT_MS, closes
 * storage and exits 0.
 */
import net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "../gen/grpc/health/v1/health_pb.js";
import { openSqliteStorage, sqliteFileIn } from "../server/storage/sqlite/sqlite-storage.js";
import { clientsFor, loginToken } from "./support/clients.js";
import { scrape, valueOf } from "./support/prometheus-text.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";

const ADMIN_PASSWORD = "admin-test-password";
let server: SpawnedServer | undefined;

afterEach(async () => {
  await server?.stop("SIGKILL");
  server = undefined;
});

async function until(predicate: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

describe("graceful shutdown", () => {
  // Generous timeouts: spawning through tsx is slow on a busy machine; nothing here asserts speed.
  it("on SIGTERM: NOT_SERVING at once, no new connections, the slow unary call succeeds, the stream ends UNAVAILABLE, exit 0", { timeout: 120_000 }, async () => {
    // BCRYPT_COST 12 makes CreateUser slow enough to be caught in flight; the
    // shutdown timeout leaves it ample time even on a busy machine (a call still
    // running when the timeout ends would fail UNAVAILABLE like the streams).
    server = await spawnServer({ BCRYPT_COST: "12", SHUTDOWN_TIMEOUT_MS: "6000", CHAT_KEEPALIVE_MS: "200" }, { timeoutMs: 90_000 });
    const { url, port } = server;
    const token = await loginToken(url, "admin", ADMIN_PASSWORD);

    const healthAc = new AbortController();
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }))
      .watch({ service: "" }, { signal: healthAc.signal })
      [Symbol.asyncIterator]();
    expect((await health.next()).value?.status).toBe(S.SERVING);

    const stream = clientsFor("grpc", url, { token }).users.subscribeChat({})[Symbol.asyncIterator]();
    // The first keep-alive proves the stream is open end to end.
    expect((await stream.next()).value?.id).toBe(0n);
    let afterSigterm = 0;
    let sigtermSent = false;
    const streamEnd = (async () => {
      try {
        for (;;) {
          const r = await stream.next();
          if (r.done === true) return "ended without an error";
          if (sigtermSent) afterSigterm++;
        }
      } catch (error) {
        return ConnectError.from(error);
      }
    })();

    const slow = clientsFor("grpc", url).users.createUser({ username: "slowpoke", email: "slowpoke@example.com", password: "slow-password-1" });
    const create = { grpc_type: "unary", grpc_service: "user.UserService", grpc_method: "CreateUser" };
    await until(async () => valueOf(await scrape(`${url}/metrics`), "grpc_server_started_total", create) === 1, "CreateUser to start");
    expect(valueOf(await scrape(`${url}/metrics`), "grpc_server_handled_total", { ...create, grpc_code: "OK" })).toBe(0);

    server.proc.kill("SIGTERM");
    sigtermSent = true;
    expect((await health.next()).value?.status).toBe(S.NOT_SERVING);
    expect(await connectRefused(port)).toBe(true);

    const created = await slow;
    expect(created.user?.username).toBe("slowpoke");

    const end = await streamEnd;
    expect(end).toBeInstanceOf(ConnectError);
    expect((end as ConnectError).code).toBe(Code.Unavailable);
    expect((end as ConnectError).rawMessage).toBe("server is shutting down");
    // The stream was not cut at SIGTERM: keep-alives kept coming until the timeout.
    expect(afterSigterm).toBeGreaterThan(0);
    healthAc.abort();

    expect(await server.exited).toBe(0);
    const msgs = server.logs.map((l) => l["msg"]);
    expect(msgs).toContain("shutting down");
    expect(msgs.at(-1)).toBe("stopped");
    const rpc = (procedure: string) => server!.logs.find((l) => l["msg"] === "rpc" && l["procedure"] === procedure);
    expect(rpc("user.UserService/CreateUser")?.["code"]).toBe("OK");
    // It really was in flight: its line was written after shutdown had begun.
    const indexOf = (entry: unknown) => server!.logs.indexOf(entry as Record<string, unknown>);
    expect(indexOf(rpc("user.UserService/CreateUser"))).toBeGreaterThan(indexOf(server.logs.find((l) => l["msg"] === "shutting down")));
    expect(rpc("user.UserService/SubscribeChat")?.["code"]).toBe("Unavailable");
    expect(server.logs.some((l) => l["level"] === 50)).toBe(false);

    // Storage was closed cleanly with the new user committed.
    const storage = await openSqliteStorage({ file: sqliteFileIn(server.dataDir) });
    try {
      expect((await storage.users.findByLogin("slowpoke"))?.email).toBe("slowpoke@example.com");
    } finally {
      await storage.close();
    }
  });

  it("exits 0 on SIGINT too, at once when nothing is in flight", { timeout: 120_000 }, async () => {
    server = await spawnServer({ SHUTDOWN_TIMEOUT_MS: "5000" }, { timeoutMs: 90_000 });
    await loginToken(server.url, "admin", ADMIN_PASSWORD);
    server.proc.kill("SIGINT");
    expect(await server.exited).toBe(0);
    expect(server.logs.find((l) => l["msg"] === "shutting down")?.["signal"]).toBe("SIGINT");
    expect(server.logs.at(-1)?.["msg"]).toBe("stopped");
  });
});
