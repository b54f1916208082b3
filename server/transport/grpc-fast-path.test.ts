import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationErrorSchema } from "../../gen/common/error_pb.js";
import { GetUserRequestSchema, GetUserResponseSchema, UserService } from "../../gen/user/user_pb.js";
import { clientsFor, loginToken } from "../../test/support/clients.js";
import { frame, h2Post } from "../../test/support/grpc-wire.js";
import { encodeGrpcMessage } from "./grpc-fast-path.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "../../test/support/test-server.js";
import { failure } from "../../test/support/rpc-expect.js";

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
});
afterAll(async () => {
  await server.close();
});

/** Sends raw bytes as one gRPC call over HTTP/2 and returns what came back. */
const rawGrpc = (path: string, headers: Record<string, string>, body: Buffer) =>
  h2Post(server.url, path, { "content-type": "application/grpc", te: "trailers", ...headers }, body);

describe("encodeGrpcMessage", () => {
  it("percent-encodes only bytes outside printable ASCII, and the percent sign", () => {
    expect(encodeGrpcMessage("invalid request: a, b; c/d?")).toBe("invalid request: a, b; c/d?");
    expect(encodeGrpcMessage("50% off")).toBe("50%25 off");
    expect(encodeGrpcMessage("naïve\nline")).toBe("na%C3%AFve%0Aline");
    expect(decodeURIComponent(encodeGrpcMessage("密码 100% é"))).toBe("密码 100% é");
  });
});

describe("the gRPC fast path", () => {
  it("serves every unary and server-streaming method of the registered services", () => {
    expect([...server.app.fastPath.procedures].sort()).toEqual(
      [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/List",
        "/grpc.health.v1.Health/Watch",
        "/user.UserService/ListUsers",
        "/user.UserService/SubscribeChat",
        "/user.AuthService/Login",
        "/user.AuthService/RefreshToken",
        "/user.AuthService/WhoAmI",
        "/user.UserService/CreateUser",
        "/user.UserService/DeleteUser",
        "/user.UserService/GetUser",
        "/user.UserService/SendChatMessage",
        "/user.UserService/UpdateUser",
      ].sort(),
    );
  });

  it("takes gRPC unary calls and answers exactly what the Connect router answers", async () => {
    const before = server.app.fastPath.served;
    const viaGrpc = await clientsFor("grpc", server.url, { token }).users.getUser({ userId: 1n });
    expect(server.app.fastPath.served).toBe(before + 1);
    // gRPC-Web is served by the Connect router, with the same handler.
    const viaRouter = await clientsFor("grpc-web", server.url, { token }).users.getUser({ userId: 1n });
    expect(server.app.fastPath.served).toBe(before + 1);
    expect(equals(GetUserResponseSchema, viaGrpc, viaRouter)).toBe(true);
  });

  it("runs the interceptors: the rpc log line, request id and auth", async () => {
    const before = server.app.fastPath.served;
    const err = await failure(clientsFor("grpc", server.url).users.getUser({ userId: 1n }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.metadata.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.app.fastPath.served).toBe(before + 1);
    const line = server.logs.findLast((l) => l["msg"] === "rpc" && l["requestId"] === err.metadata.get("x-request-id"));
    expect(line).toMatchObject({ procedure: "user.UserService/GetUser", protocol: "grpc", code: "Unauthenticated" });
  });

  it("carries error details as grpc-status-details-bin", async () => {
    const err = await failure(clientsFor("grpc", server.url).users.createUser({ username: "x", email: "y", password: "z" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["username", "email", "password"]);
  });

  it("leaves compressed requests to the Connect router, which still answers them", async () => {
    const before = server.app.fastPath.served;
    const client = createClient(
      UserService,
      createGrpcTransport({
        baseUrl: server.url,
        sendCompression: compressionGzip,
        compressMinBytes: 0,
        interceptors: [(next) => async (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
      }),
    );
    expect((await client.getUser({ userId: 1n })).user?.username).toBe("admin");
    expect(server.app.fastPath.served).toBe(before);
  });

  it("refuses malformed calls with the codes Connect uses", async () => {
    const auth = { authorization: `Bearer ${token}` };
    const good = frame(toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId: 1n })));
    const badTimeout = await rawGrpc("/user.UserService/GetUser", { ...auth, "grpc-timeout": "soon" }, good);
    expect(badTimeout.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const twoMessages = await rawGrpc("/user.UserService/GetUser", auth, Buffer.concat([good, good]));
    expect(twoMessages.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    const truncated = await rawGrpc("/user.UserService/GetUser", auth, good.subarray(0, good.length - 1));
    expect(truncated.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const garbage = await rawGrpc("/user.UserService/GetUser", auth, frame(Buffer.from([0xff, 0xff, 0xff])));
    expect(garbage.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const flagged = Buffer.from(good);
    flagged[0] = 1;
    const compressedFlag = await rawGrpc("/user.UserService/GetUser", auth, flagged);
    expect(compressedFlag.headers["grpc-status"]).toBe(String(Code.Internal));
    // The connection is still good for a well-formed call.
    const ok = await rawGrpc("/user.UserService/GetUser", auth, good);
    expect(ok.trailers["grpc-status"]).toBe("0");
    expect(fromBinary(GetUserResponseSchema, ok.body.subarray(5)).user?.username).toBe("admin");
  });

  it("refuses a message over the size limit without reading it all", async () => {
    const huge = Buffer.alloc(5 + 5 * 1024 * 1024);
    huge.writeUInt32BE(5 * 1024 * 1024, 1);
    const res = await rawGrpc("/user.UserService/GetUser", { authorization: `Bearer ${token}` }, huge);
    expect(res.headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
  });

  it("ends a call whose deadline passes with DEADLINE_EXCEEDED, and writes nothing after it", async () => {
    // Cost 13 makes one hash take far longer than the 50 ms deadline; one hashing thread makes the order of hashes certain.
    const slow = await startTestServer({ env: { BCRYPT_COST: "13", BCRYPT_THREADS: "1" } });
    try {
      const before = slow.app.fastPath.served;
      const err = await failure(clientsFor("grpc", slow.url).users.createUser({ username: "too_late", email: "late@example.com", password: "password123" }, { timeoutMs: 50 }));
      expect(err.code).toBe(Code.DeadlineExceeded);
      expect(slow.app.fastPath.served).toBe(before + 1);
      // This hash queues behind the abandoned one, so when it is done the abandoned call has had its chance to write.
      await clientsFor("grpc", slow.url).users.createUser({ username: "in_time", email: "in_time@example.com", password: "password123" });
      expect(await slow.app.storage.users.findByLogin("in_time")).toBeDefined();
      expect(await slow.app.storage.users.findByLogin("too_late")).toBeUndefined();
    } finally {
      await slow.close();
    }
  });

  it("streams ListUsers with backpressure and ends with status in trailers", async () => {
    const admin = clientsFor("grpc", server.url, { token });
    for (let i = 0; i < 30; i++) await admin.users.createUser({ username: `fast_${i}`, email: `fast_${i}@example.com`, password: "password123" });
    const before = server.app.fastPath.served;
    const names: string[] = [];
    for await (const u of admin.users.listUsers({ search: "fast_", pageSize: 100, sortBy: "username" })) names.push(u.username);
    expect(server.app.fastPath.served).toBe(before + 1);
    expect(names).toHaveLength(30);
    expect(names[0]).toBe("fast_0");
    // A failure before the first message is a trailers-only response with the right code.
    const err = await failure((async () => {
      for await (const _ of admin.users.listUsers({ sortBy: "password_hash" })) void _;
    })());
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["sort_by"]);
  });

  it("ends a chat subscription when the client cancels, leaving no subscriber behind", async () => {
    const controller = new AbortController();
    const seen: bigint[] = [];
    const reading = (async () => {
      for await (const m of clientsFor("grpc", server.url, { token }).users.subscribeChat({}, { signal: controller.signal })) seen.push(m.id);
    })();
    const caught = reading.catch((error: unknown) => ConnectError.from(error));
    // The keep-alive after the (empty) history shows the stream is up.
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(server.app.hub.subscriberCount()).toBe(1);
    const sent = await clientsFor("grpc", server.url, { token }).users.sendChatMessage({ content: "over the fast path" });
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([0n, sent.message?.id]);
    controller.abort();
    expect(((await caught) as ConnectError).code).toBe(Code.Canceled);
    for (let i = 0; i < 100 && server.app.hub.subscriberCount() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.app.hub.subscriberCount()).toBe(0);
  });

  it("ends a stream whose deadline passes with DEADLINE_EXCEEDED in its trailers", async () => {
    const started = Date.now();
    const err = await failure((async () => {
      for await (const _ of clientsFor("grpc", server.url, { token }).users.subscribeChat({}, { timeoutMs: 300 })) void _;
    })());
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    for (let i = 0; i < 100 && server.app.hub.subscriberCount() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.app.hub.subscriberCount()).toBe(0);
  });
});
