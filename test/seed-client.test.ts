import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

const require = createRequire(import.meta.url);
const { SeedStyleClient, grpcLogin } = require("./support/seed-style-client.cjs") as {
  SeedStyleClient: new (protoPath: string, address: string) => SeedClient;
  grpcLogin: (authProto: string, include: string, address: string, u: string, p: string) => Promise<{ access_token: string; expires_at: string; user: Record<string, unknown> }>;
};

interface SeedClient {
  setAuthToken(token: string): void;
  getUser(id: string | number, fields?: string[]): Promise<{ found: boolean; user: Record<string, unknown> | null }>;
  createUser(data: Record<string, unknown>): Promise<{ success: boolean; message: string; user: Record<string, unknown> }>;
  updateUser(id: string | number, updates: Record<string, unknown>): Promise<{ success: boolean; user: Record<string, unknown> }>;
  deleteUser(id: string | number, soft?: boolean): Promise<{ success: boolean; message: string }>;
  listUsers(filters: Record<string, unknown>): Promise<Record<string, unknown>[]>;
  batchCreateUsers(items: Record<string, unknown>[]): Promise<Record<string, unknown>>;
  createChatSession(): {
    sendMessage(m: Record<string, unknown>): void;
    onMessage(cb: (m: Record<string, unknown>) => void): void;
    onError(cb: (e: { code: number }) => void): void;
    onEnd(cb: () => void): void;
    end(): void;
  };
  close(): void;
}

const root = path.resolve(import.meta.dirname, "..");
/** Both the seed's published proto and today's evolved one must drive the same server. */
const protos = {
  "the seed's published user.proto": path.join(root, "test/fixtures/seed-proto/user/user.proto"),
  "the project's user.proto": path.join(root, "proto/user/user.proto"),
};

let server: TestServer;
let address: string;

beforeAll(async () => {
  server = await startTestServer();
  address = `127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
});

describe.each(Object.entries(protos))("a grpc-js client built from %s", (label, protoPath) => {
  const suffix = label.startsWith("the seed") ? "seed" : "proj";

  it("runs the seed's example flow", async () => {
    const client = new SeedStyleClient(protoPath, address);
    try {
      const created = await client.createUser({
        username: `test_user_${suffix}`,
        email: `test_${suffix}@example.com`,
        password: "password123",
        full_name: "Test User",
        roles: ["user"],
      });
      expect(created).toMatchObject({ success: true, message: "User created successfully" });
      expect(created.user).toMatchObject({ username: `test_user_${suffix}`, full_name: "Test User", status: "USER_STATUS_ACTIVE", roles: ["user"] });
      expect(created.user).not.toHaveProperty("password");
      const userId = created.user["id"] as string;
      expect(userId).toMatch(/^\d+$/);

      const login = await grpcLogin(path.join(root, "proto/user/auth.proto"), path.join(root, "proto"), address, `test_user_${suffix}`, "password123");
      client.setAuthToken(login.access_token);

      const got = await client.getUser(userId);
      expect(got.found).toBe(true);
      expect(got.user).toMatchObject({ id: userId, email: `test_${suffix}@example.com` });

      const updated = await client.updateUser(userId, { full_name: "Updated Test User" });
      expect(updated.user).toMatchObject({ full_name: "Updated Test User", username: `test_user_${suffix}` });

      // The seed's client sends the status filter by name; ACTIVE must not drop everyone.
      const users = await client.listUsers({ page: 1, page_size: 10, status: "USER_STATUS_ACTIVE", search: `test_user_${suffix}` });
      expect(users.map((u) => u["username"])).toEqual([`test_user_${suffix}`]);
      const unfiltered = await client.listUsers({ page: 1, page_size: 1000 });
      expect(unfiltered.map((u) => u["username"])).toContain(`test_user_${suffix}`);

      const admin = await grpcLogin(path.join(root, "proto/user/auth.proto"), path.join(root, "proto"), address, "admin", TEST_ADMIN_PASSWORD);
      client.setAuthToken(admin.access_token);
      const batch = await client.batchCreateUsers([
        { username: `batch_user1_${suffix}`, email: `batch1_${suffix}@example.com`, password: "password123", full_name: "Batch User 1" },
        { username: `batch_user2_${suffix}`, email: `batch2_${suffix}@example.com`, password: "password123", full_name: "Batch User 2" },
      ]);
      expect(batch).toMatchObject({ success_count: 2, error_count: 0, errors: [] });

      client.setAuthToken(login.access_token);
      const chat = client.createChatSession();
      const received: Record<string, unknown>[] = [];
      const ended = new Promise<void>((resolve, reject) => {
        chat.onEnd(resolve);
        chat.onError(reject);
      });
      chat.onMessage((m) => received.push(m));
      chat.sendMessage({ from_user_id: userId, to_user_id: 0, content: "Hello, World!", timestamp: Date.now(), type: "MESSAGE_TYPE_TEXT" });
      chat.sendMessage({ from_user_id: userId, to_user_id: 0, content: "How are you?", timestamp: Date.now(), type: "MESSAGE_TYPE_TEXT" });
      chat.end();
      await ended;
      expect(received.map((m) => [m["from_user_id"], m["content"], m["type"]])).toEqual([
        [userId, "Hello, World!", "MESSAGE_TYPE_TEXT"],
        [userId, "How are you?", "MESSAGE_TYPE_TEXT"],
      ]);

      const deleted = await client.deleteUser(userId, true);
      expect(deleted).toMatchObject({ success: true, message: "User soft deleted successfully" });
    } finally {
      client.close();
    }
  });

  it("sees the seed's error codes", async () => {
    const client = new SeedStyleClient(protoPath, address);
    try {
      await expect(client.getUser(1)).rejects.toMatchObject({ code: 16 });
      await expect(client.createUser({ username: "admin", email: `again_${suffix}@example.com`, password: "password123" })).rejects.toMatchObject({ code: 6 });
      // grpc-js decodes grpc-message with decodeURI: the server must percent-encode only what the gRPC spec says.
      await expect(client.createUser({ username: "", email: "", password: "" })).rejects.toMatchObject({
        code: 3,
        details: "invalid request: username: is required; email: is required; password: is required",
      });
    } finally {
      client.close();
    }
  });
});
