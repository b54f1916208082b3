import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "../test/support/test-server.js";
import { createUserClient } from "./user-client.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe("the debug interceptor", () => {
  it("logs method, headers, messages, outcome and timing, with every secret redacted", async () => {
    const lines: string[] = [];
    const client = createUserClient({ baseUrl: server.url, protocol: "connect", debug: (line) => lines.push(line) });
    try {
      const login = await client.login("admin", TEST_ADMIN_PASSWORD);
      await client.whoAmI();
      await client.batchCreateUsers([{ username: "debug_one", email: "debug_one@example.com", password: "very-secret-pw" }]);
      await client.getUser(999_999, { timeoutMs: 5_000 });
      await client.updateUser(999_999, { fullName: "x" }).catch(() => undefined);
      const text = lines.join("\n");
      // Secrets never appear.
      expect(text).not.toContain(TEST_ADMIN_PASSWORD);
      expect(text).not.toContain("very-secret-pw");
      expect(text).not.toContain(login.accessToken);
      expect(text).not.toContain(login.accessToken.split(".")[2] ?? "never");
      // Each call is described.
      expect(lines.some((l) => /#1 → user\.AuthService\/Login http:\/\/127\.0\.0\.1:\d+\/user\.AuthService\/Login \(unary\)/.test(l))).toBe(true);
      expect(lines.some((l) => l.includes('#1 → message {"username":"admin","password":"[redacted]"}'))).toBe(true);
      expect(lines.some((l) => l.includes('#1 ← message {"accessToken":"[redacted]"'))).toBe(true);
      expect(lines.some((l) => /#1 ✓ OK in \d+ ms/.test(l))).toBe(true);
      expect(lines.some((l) => l.includes("#2 → user.AuthService/WhoAmI") && l.includes('"authorization":"Bearer [redacted]"'))).toBe(true);
      expect(lines.some((l) => l.includes('#3 → message {"username":"debug_one","email":"debug_one@example.com","password":"[redacted]"}'))).toBe(true);
      expect(lines.some((l) => l.includes("#3 → end of request stream"))).toBe(true);
      // The header carries what is left of the 5 s budget when the attempt is sent, so a millisecond may already be gone.
      const getUserLine = lines.find((l) => l.includes("#4 → user.UserService/GetUser")) ?? "";
      const sentTimeoutMs = Number(/"connect-timeout-ms":"(\d+)"/.exec(getUserLine)?.[1]);
      expect(sentTimeoutMs).toBeGreaterThan(4_000);
      expect(sentTimeoutMs).toBeLessThanOrEqual(5_000);
      expect(lines.some((l) => /#5 ✗ NOT_FOUND "[^"]*" after \d+ ms/.test(l))).toBe(true);
    } finally {
      client.close();
    }
  });

  it("is switched on by USERS_DEBUG=1 when the option is not given", async () => {
    const previous = process.env["USERS_DEBUG"];
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.env["USERS_DEBUG"] = "1";
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const client = createUserClient({ baseUrl: server.url });
      await client.getUser(1).catch(() => undefined);
      client.close();
    } finally {
      process.stderr.write = original;
      if (previous === undefined) delete process.env["USERS_DEBUG"];
      else process.env["USERS_DEBUG"] = previous;
    }
    expect(written.some((l) => l.startsWith("[users-debug] #1 → user.UserService/GetUser"))).toBe(true);
  });
});
