import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetUserRequestSchema, GetUserResponseSchema } from "../../gen/user/user_pb.js";
import { loginToken } from "../../test/support/clients.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "../../test/support/test-server.js";

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
});
afterAll(async () => {
  await server.close();
});

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
  requestId: string | null;
}

/** One Connect unary POST over HTTP/1.1; with an Origin header it goes through Fastify and the Connect router. */
async function post(path: string, body: string | Uint8Array, headers: Record<string, string>, viaRouter: boolean): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { ...headers, ...(viaRouter ? { origin: "http://example.test" } : {}) },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: res.headers.get("content-type") === "application/proto" ? bytes.toString("hex") : bytes.toString("utf8"),
    requestId: res.headers.get("x-request-id"),
  };
}

const json = { "content-type": "application/json" };

describe("the Connect fast path for HTTP/1.1", () => {
  it("serves plain Connect unary calls and leaves browser calls (with Origin) to the router", async () => {
    const before = server.app.connectFastPath.served;
    const direct = await post("/user.UserService/GetUser", '{"userId":"1"}', { ...json, authorization: `Bearer ${token}` }, false);
    expect(server.app.connectFastPath.served).toBe(before + 1);
    const routed = await post("/user.UserService/GetUser", '{"userId":"1"}', { ...json, authorization: `Bearer ${token}` }, true);
    expect(server.app.connectFastPath.served).toBe(before + 1);
    expect(direct.status).toBe(200);
    expect(direct.contentType).toBe("application/json");
    expect(JSON.parse(direct.body)).toEqual(JSON.parse(routed.body));
    expect(direct.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers exactly as the router does, for success and every kind of failure", async () => {
    const cases: [string, string | Uint8Array, Record<string, string>][] = [
      ["/user.UserService/GetUser", '{"userId":"1","fields":["username"]}', { ...json, authorization: `Bearer ${token}` }],
      ["/user.UserService/GetUser", toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId: 1n })), { "content-type": "application/proto", authorization: `Bearer ${token}` }],
      ["/user.UserService/GetUser", '{"userId":"1"}', json],
      ["/user.UserService/GetUser", '{"userId":"1"}', { ...json, authorization: "Bearer not-a-token" }],
      ["/user.UserService/GetUser", '{"userId":"424242"}', { ...json, authorization: `Bearer ${token}` }],
      ["/user.UserService/GetUser", '{"userId":"1","fields":["nope"]}', { ...json, authorization: `Bearer ${token}` }],
      ["/user.UserService/CreateUser", '{"username":"x","email":"y","password":"z"}', json],
      ["/user.UserService/CreateUser", "{not json", json],
      ["/user.UserService/CreateUser", '{"username":"a","unknownField":1}', json],
      ["/user.UserService/GetUser", '{"userId":"1"}', { ...json, authorization: `Bearer ${token}`, "connect-timeout-ms": "soon" }],
      ["/user.UserService/DeleteUser", '{"userId":"424242"}', { ...json, authorization: `Bearer ${token}` }],
    ];
    for (const [path, body, headers] of cases) {
      const direct = await post(path, body, headers, false);
      const routed = await post(path, body, headers, true);
      const label = `${path} ${typeof body === "string" ? body : "(binary)"} ${JSON.stringify(headers)}`;
      expect(direct.status, label).toBe(routed.status);
      expect(direct.contentType, label).toBe(routed.contentType);
      expect(direct.body, label).toBe(routed.body);
    }
  });

  it("decodes the binary codec", async () => {
    const body = toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { userId: 1n }));
    const res = await post("/user.UserService/GetUser", body, { "content-type": "application/proto", authorization: `Bearer ${token}` }, false);
    expect(res.status).toBe(200);
    expect(fromBinary(GetUserResponseSchema, Buffer.from(res.body, "hex")).user?.username).toBe("admin");
  });

  it("refuses a body over the size limit with resource_exhausted", async () => {
    const huge = JSON.stringify({ username: "x".repeat(5 * 1024 * 1024) });
    const res = await post("/user.UserService/CreateUser", huge, json, false);
    expect(res.status).toBe(429);
    expect(JSON.parse(res.body)).toMatchObject({ code: "resource_exhausted" });
  });

  it("leaves compressed bodies and streaming calls to the router", async () => {
    const before = server.app.connectFastPath.served;
    const res = await fetch(`${server.url}/user.UserService/ListUsers`, {
      method: "POST",
      headers: { "content-type": "application/connect+json", authorization: `Bearer ${token}` },
      body: new Uint8Array([0, 0, 0, 0, 2, 123, 125]),
    });
    expect(res.status).toBe(200);
    expect(server.app.connectFastPath.served).toBe(before);
  });
});
