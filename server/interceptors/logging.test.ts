import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { LoginResponseSchema, AuthService } from "../../gen/user/auth_pb.js";
import { BatchCreateUsersResponseSchema, GetUserResponseSchema, UserSchema, UserService } from "../../gen/user/user_pb.js";
import { createLogger } from "../logger.js";
import { requestIdKey } from "./context-keys.js";
import { createErrorMappingInterceptor } from "./error-mapping.js";
import { createLoggingInterceptor } from "./logging.js";

type Line = Record<string, unknown>;

/** A logger whose JSON lines land in an array, exactly as the app's logger writes them. */
function capture(level: string) {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
      done();
    },
  });
  const logger = createLogger(level, sink);
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l) as Line) };
}

const userService: Partial<ServiceImpl<typeof UserService>> = {
  getUser(req) {
    if (req.userId === 404n) throw new ConnectError("user 404 not found", Code.NotFound);
    if (req.userId === 500n) throw new Error("database exploded at /secret/path");
    if (req.userId === 403n) throw new ConnectError("not allowed", Code.PermissionDenied);
    return create(GetUserResponseSchema, { found: true, user: create(UserSchema, { id: req.userId, username: "ada" }) });
  },
  async *listUsers(req) {
    for (let i = 1; i <= req.pageSize; i++) yield create(UserSchema, { id: BigInt(i) });
  },
  async batchCreateUsers(requests) {
    let n = 0;
    for await (const _ of requests) n++;
    return create(BatchCreateUsersResponseSchema, { successCount: n });
  },
};
const authService: Partial<ServiceImpl<typeof AuthService>> = {
  login(req) {
    return create(LoginResponseSchema, { accessToken: `token-for-${req.username}`, expiresAt: 1n });
  },
};

function setup(level = "info", header: Record<string, string> = {}) {
  const log = capture(level);
  const unexpected: unknown[] = [];
  const transport = createRouterTransport(
    (router) => {
      router.service(UserService, userService);
      router.service(AuthService, authService);
    },
    {
      router: {
        interceptors: [createLoggingInterceptor(log.logger), createErrorMappingInterceptor((e) => unexpected.push(e))],
      },
      transport: {
        interceptors: [
          (next) => async (req) => {
            for (const [k, v] of Object.entries(header)) req.header.set(k, v);
            return next(req);
          },
        ],
      },
    },
  );
  return { ...log, unexpected, users: createClient(UserService, transport), auth: createClient(AuthService, transport) };
}

const rpcLines = (lines: Line[]) => lines.filter((l) => l["msg"] === "rpc");

describe("logging interceptor", () => {
  it("writes exactly one line per unary call with the call's facts", async () => {
    const { users, lines } = setup("info", { "x-request-id": "req-42.a:b_c" });
    let echoed: string | null = null;
    await users.getUser({ userId: 7n }, { onHeader: (h) => (echoed = h.get("x-request-id")) });
    const rpc = rpcLines(lines());
    expect(rpc).toHaveLength(1);
    const [line] = rpc;
    expect(line).toMatchObject({
      level: 30,
      requestId: "req-42.a:b_c",
      procedure: "user.UserService/GetUser",
      protocol: "connect",
      streamKind: "unary",
      code: "OK",
      messagesIn: 1,
      messagesOut: 1,
    });
    expect(typeof line?.["durationMs"]).toBe("number");
    expect(line?.["durationMs"]).toBeGreaterThanOrEqual(0);
    expect(line).not.toHaveProperty("error");
    expect(line).not.toHaveProperty("requestHeaders");
    expect(line).not.toHaveProperty("request");
    // The id the log line carries is the one the error-mapping interceptor echoes.
    expect(echoed).toBe("req-42.a:b_c");
  });

  it("replaces an unsafe caller request id with a generated one, and echoes that", async () => {
    const { users, lines } = setup("info", { "x-request-id": "a b\"c" });
    let echoed: string | null = null;
    await users.getUser({ userId: 7n }, { onHeader: (h) => (echoed = h.get("x-request-id")) });
    const [line] = rpcLines(lines());
    expect(line?.["requestId"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(echoed).toBe(line?.["requestId"]);
  });

  it("logs failures with their canonical code, message and a level by severity", async () => {
    const { users, lines, unexpected } = setup();
    await expect(users.getUser({ userId: 404n })).rejects.toThrow(ConnectError);
    await expect(users.getUser({ userId: 403n })).rejects.toThrow(ConnectError);
    await expect(users.getUser({ userId: 500n })).rejects.toThrow(ConnectError);
    const rpc = rpcLines(lines());
    expect(rpc.map((l) => [l["code"], l["level"], l["messagesIn"], l["messagesOut"]])).toEqual([
      ["NotFound", 30, 1, 0],
      ["PermissionDenied", 40, 1, 0],
      ["Internal", 50, 1, 0],
    ]);
    expect(rpc[0]?.["error"]).toBe("user 404 not found");
    // The unexpected failure is logged without its internals; error-mapping reports the cause separately.
    expect(rpc[2]?.["error"]).toMatch(/^internal error \(request id [0-9a-f-]{36}\)$/);
    expect(JSON.stringify(rpc)).not.toContain("/secret/path");
    expect(unexpected).toHaveLength(1);
  });

  it("counts stream messages in both directions and logs when the stream ends", async () => {
    const { users, lines } = setup();
    const received = [];
    for await (const u of users.listUsers({ pageSize: 3 })) received.push(u);
    expect(received).toHaveLength(3);
    async function* items() {
      for (let i = 0; i < 4; i++) yield { username: `u${i}` };
    }
    expect((await users.batchCreateUsers(items())).successCount).toBe(4);
    const rpc = rpcLines(lines());
    expect(rpc.map((l) => [l["procedure"], l["streamKind"], l["code"], l["messagesIn"], l["messagesOut"]])).toEqual([
      ["user.UserService/ListUsers", "server_stream", "OK", 1, 3],
      ["user.UserService/BatchCreateUsers", "client_stream", "OK", 4, 1],
    ]);
  });

  it("at debug level adds headers and bodies with every secret redacted", async () => {
    const { auth, users, lines, raw } = setup("debug", { authorization: "Bearer very-secret-token", cookie: "sid=abc" });
    await auth.login({ username: "ada", password: "correct horse battery" });
    async function* items() {
      yield { username: "bob", password: "bobs-own-password" };
    }
    await users.batchCreateUsers(items());
    const all = raw.join("\n");
    for (const secret of ["very-secret-token", "correct horse battery", "token-for-ada", "bobs-own-password", "sid=abc"]) {
      expect(all).not.toContain(secret);
    }
    const [login, batch] = rpcLines(lines());
    expect(login?.["requestHeaders"]).toMatchObject({ authorization: "[redacted]", cookie: "[redacted]" });
    expect(login?.["request"]).toEqual({ username: "ada", password: "[redacted]" });
    expect(login?.["response"]).toEqual({ accessToken: "[redacted]", expiresAt: "1" });
    expect(batch?.["messagesIn"]).toBe(1);
    const messageLines = lines().filter((l) => l["msg"] === "rpc message");
    expect(messageLines.map((l) => [l["direction"], l["body"]])).toEqual([
      ["in", { username: "bob", password: "[redacted]" }],
      ["out", { successCount: 1 }],
    ]);
  });

  it("keeps what a caller sends inside one JSON line", async () => {
    const { auth, raw } = setup("debug");
    const forged = 'x"}\n{"level":30,"msg":"forged","requestId":"evil';
    await auth.login({ username: forged, password: "pw-123456" });
    for (const line of raw) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(raw.map((l) => JSON.parse(l) as Line).filter((l) => l["msg"] === "forged")).toEqual([]);
    const login = raw.map((l) => JSON.parse(l) as Line).find((l) => l["msg"] === "rpc");
    expect((login?.["request"] as Line)["username"]).toBe(forged);
  });

  it("reuses a request id an outer interceptor already set", async () => {
    const log = capture("info");
    const transport = createRouterTransport((router) => router.service(UserService, userService), {
      router: {
        interceptors: [
          (next) => async (req) => {
            req.contextValues.set(requestIdKey, "from-outside");
            return next(req);
          },
          createLoggingInterceptor(log.logger),
        ],
      },
    });
    await createClient(UserService, transport).getUser({ userId: 1n });
    expect(rpcLines(log.lines())[0]?.["requestId"]).toBe("from-outside");
  });
});
