import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetUserRequestSchema, GetUserResponseSchema, UserSchema, ListUsersRequestSchema } from "../gen/user/user_pb.js";
import { loginToken } from "./support/clients.js";
import { frame, h2Post, unframe } from "./support/grpc-wire.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
});
afterAll(async () => {
  await server.close();
});

/** A raw HTTP/2 request to the test server. */
const h2Request = (path: string, headers: Record<string, string>, body: Buffer | string) => h2Post(server.url, path, headers, body);

describe("plain HTTP clients on the same port", () => {
  it("fetch over HTTP/1.1 POSTs Connect JSON with int64 as strings", async () => {
    const res = await fetch(`${server.url}/user.UserService/GetUser`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ userId: "1" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { found: boolean; user: Record<string, unknown> };
    expect(body.found).toBe(true);
    expect(body.user).toMatchObject({ id: "1", username: "admin", status: "USER_STATUS_ACTIVE" });
    expect(typeof body.user["createdAt"]).toBe("string");
  });

  it("accepts the proto field names in JSON too, as protobuf JSON requires", async () => {
    const res = await fetch(`${server.url}/user.UserService/GetUser`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ user_id: "1", fields: ["full_name"] }),
    });
    expect(await res.json()).toEqual({ user: { fullName: "Administrator" }, found: true });
  });

  it("answers GetUser as a cacheable HTTP GET", async () => {
    const message = encodeURIComponent(JSON.stringify({ userId: "1" }));
    const res = await fetch(`${server.url}/user.UserService/GetUser?connect=v1&encoding=json&message=${message}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { user: { username: string } }).user.username).toBe("admin");
    // Side effects are never reachable by GET.
    const post = await fetch(`${server.url}/user.UserService/CreateUser?encoding=json&message=%7B%7D`);
    expect(post.status).toBe(405);
  });

  it("maps errors to HTTP statuses and Connect error JSON", async () => {
    const res = await fetch(`${server.url}/user.UserService/CreateUser`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "ok_name", email: "bad", password: "password123" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; details: { type: string; debug: { errors: { field: string }[] } }[] };
    expect(body.code).toBe("invalid_argument");
    expect(body.details.find((d) => d.type === "common.ValidationError")?.debug.errors.map((e) => e.field)).toEqual(["email"]);
    const unauth = await fetch(`${server.url}/user.UserService/GetUser`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(unauth.status).toBe(401);
    const malformed = await fetch(`${server.url}/user.UserService/CreateUser`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("invalid_argument");
  });

  it("curl speaks Connect JSON over HTTP/1.1 and HTTP/2 prior knowledge", async () => {
    for (const flag of ["--http1.1", "--http2-prior-knowledge"]) {
      const { stdout } = await run("curl", ["-sS", flag, "-X", "POST", `${server.url}/user.UserService/GetUser`, "-H", "content-type: application/json", "-H", `authorization: Bearer ${token}`, "-d", '{"userId":"1"}', "-w", "\n%{http_version}"]);
      const [json, version] = stdout.trim().split("\n");
      expect(JSON.parse(json ?? "{}")).toMatchObject({ found: true, user: { username: "admin" } });
      expect(version).toBe(flag === "--http1.1" ? "1.1" : "2");
    }
  });

  it("answers hand-framed gRPC over HTTP/2 prior knowledge with trailers", async () => {
    const request = frame(toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId: 1n })));
    const res = await h2Request("/user.UserService/GetUser", { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${token}` }, request);
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["content-type"]).toBe("application/grpc+proto");
    expect(res.trailers["grpc-status"]).toBe("0");
    const [message] = unframe(res.body);
    const decoded = fromBinary(GetUserResponseSchema, message ?? Buffer.alloc(0));
    expect(decoded.found).toBe(true);
    expect(decoded.user?.username).toBe("admin");
  });

  it("streams ListUsers as separate gRPC messages and reports errors in trailers", async () => {
    const request = frame(toBinary(ListUsersRequestSchema, create(ListUsersRequestSchema, { pageSize: 5 })));
    const ok = await h2Request("/user.UserService/ListUsers", { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${token}` }, request);
    expect(ok.trailers["grpc-status"]).toBe("0");
    expect(unframe(ok.body).map((m) => fromBinary(UserSchema, m).username)).toEqual(["admin"]);
    const denied = await h2Request("/user.UserService/ListUsers", { "content-type": "application/grpc", te: "trailers" }, request);
    // A trailers-only response: status in the headers block.
    expect(denied.headers["grpc-status"] ?? denied.trailers["grpc-status"]).toBe("16");
    expect(decodeURIComponent(String(denied.headers["grpc-message"] ?? denied.trailers["grpc-message"]))).toBe("missing bearer token");
  });

  it("answers gRPC-Web over HTTP/1.1 with trailers in the body", async () => {
    const request = frame(toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId: 1n })));
    const res = await fetch(`${server.url}/user.UserService/GetUser`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", authorization: `Bearer ${token}` },
      body: new Uint8Array(request),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const length = body.readUInt32BE(1);
    expect(body[0]).toBe(0);
    expect(fromBinary(GetUserResponseSchema, body.subarray(5, 5 + length)).user?.username).toBe("admin");
    const trailer = body.subarray(5 + length);
    expect(trailer[0]).toBe(0x80);
    expect(trailer.subarray(5).toString("utf8")).toContain("grpc-status: 0");
  });
});
