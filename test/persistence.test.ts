import { rmSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { clientsFor, loginToken } from "./support/clients.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";

const started: SpawnedServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop("SIGKILL")));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<SpawnedServer> {
  const server = await spawnServer(env);
  started.push(server);
  if (!dirs.includes(server.dataDir)) dirs.push(server.dataDir);
  return server;
}

describe("durability of the embedded SQLite storage", () => {
  it("keeps users and chat history across a restart, and creates the admin only once", async () => {
    const first = await start({ ADMIN_PASSWORD: "" });
    const banner = first.lines.find((l) => l.includes("admin account's password is"));
    const password = banner?.match(/password is (\S+)/)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // The generated password is shown once, and never in a JSON log line.
    expect(first.logs.some((entry) => JSON.stringify(entry).includes(password ?? "?"))).toBe(false);

    const anon = clientsFor("connect", first.url);
    const created = await anon.users.createUser({ username: "persist_me", email: "persist@example.com", password: "password123", fullName: "Persistent" });
    const token = await loginToken(first.url, "persist_me", "password123");
    const sent = await clientsFor("grpc", first.url, { token }).users.sendChatMessage({ content: "remember this" });
    expect(await first.stop("SIGTERM")).toBe(0);

    const second = await start({ DATA_DIR: first.dataDir, ADMIN_PASSWORD: "" });
    expect(second.lines.some((l) => l.includes("admin account's password is"))).toBe(false);
    const adminToken = await loginToken(second.url, "admin", password ?? "");
    const got = await clientsFor("grpc", second.url, { token: adminToken }).users.getUser({ userId: created.user?.id ?? 0n });
    expect(got.user).toMatchObject({ username: "persist_me", fullName: "Persistent" });
    const history: string[] = [];
    const controller = new AbortController();
    try {
      for await (const m of clientsFor("connect", second.url, { token: adminToken }).users.subscribeChat({ sinceId: 0n }, { signal: controller.signal })) {
        if (m.id === 0n) continue;
        history.push(`${m.id}:${m.content}`);
        if (m.id === sent.message?.id) controller.abort();
      }
    } catch (error) {
      expect(ConnectError.from(error).code).toBe(Code.Canceled);
    }
    expect(history).toEqual([`${sent.message?.id}:remember this`]);
    expect(await second.stop("SIGTERM")).toBe(0);
  });

  it("never loses an acknowledged write to kill -9", async () => {
    const server = await start();
    const client = clientsFor("grpc", server.url);
    const acknowledged: bigint[] = [];
    let stopped = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stopped; i++) {
        try {
          const res = await client.users.createUser({ username: `k9_${w}_${i}`, email: `k9_${w}_${i}@example.com`, password: "password123" });
          acknowledged.push(res.user?.id ?? 0n);
        } catch {
          return;
        }
      }
    });
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 5));
    await server.stop("SIGKILL");
    stopped = true;
    await Promise.all(writers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);

    const again = await start({ DATA_DIR: server.dataDir });
    const adminToken = await loginToken(again.url, "admin", "admin-test-password");
    const admin = clientsFor("grpc", again.url, { token: adminToken });
    const missing: bigint[] = [];
    for (const id of acknowledged) {
      if (!(await admin.users.getUser({ userId: id })).found) missing.push(id);
    }
    expect(missing).toEqual([]);
    expect(await again.stop("SIGTERM")).toBe(0);
  });
});
