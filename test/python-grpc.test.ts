import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationErrorSchema } from "../gen/common/error_pb.js";
import {
  ChatMessageSchema,
  CreateUserRequestSchema,
  GetUserRequestSchema,
  GetUserResponseSchema,
  ListUsersRequestSchema,
  UserSchema,
} from "../gen/user/user_pb.js";
import { loginToken } from "./support/clients.js";
import { requireTool } from "./support/tools.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
const script = path.join(import.meta.dirname, "support", "python-grpc-client.py");
const python = "/usr/bin/python3";

interface Step {
  kind: "unary" | "server_stream" | "bidi";
  path: string;
  requests: string[];
}
interface Result {
  code: number;
  message?: string;
  responses: string[];
  trailers: Record<string, string>;
}

const hex = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => Buffer.from(toBinary(schema, create(schema, init))).toString("hex");

let server: TestServer;
let token: string;

beforeAll(async () => {
  await requireTool(python, ["-c", "import grpc"], "python3-grpcio");
  server = await startTestServer();
  token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
});
afterAll(async () => {
  await server?.close();
});

async function python3(steps: Step[], bearer = token): Promise<Result[]> {
  const { stdout } = await run(python, [script, `127.0.0.1:${server.port}`, bearer, JSON.stringify(steps)], { timeout: 30_000 });
  return JSON.parse(stdout) as Result[];
}

describe("python grpcio, an independent gRPC implementation", () => {
  it("calls unary, server-streaming and bidi RPCs", async () => {
    expect(existsSync(script)).toBe(true);
    const [get, list, chat] = await python3([
      { kind: "unary", path: "/user.UserService/GetUser", requests: [hex(GetUserRequestSchema, { userId: 1n })] },
      { kind: "server_stream", path: "/user.UserService/ListUsers", requests: [hex(ListUsersRequestSchema, { pageSize: 10 })] },
      { kind: "bidi", path: "/user.UserService/UserChat", requests: [hex(ChatMessageSchema, { content: "from python" }), hex(ChatMessageSchema, { content: "again" })] },
    ]);
    expect(get?.code).toBe(0);
    const user = fromBinary(GetUserResponseSchema, Buffer.from(get?.responses[0] ?? "", "hex"));
    expect(user.user?.username).toBe("admin");
    expect(list?.responses.map((r) => fromBinary(UserSchema, Buffer.from(r, "hex")).username)).toEqual(["admin"]);
    expect(chat?.responses.map((r) => fromBinary(ChatMessageSchema, Buffer.from(r, "hex")).content)).toEqual(["from python", "again"]);
  });

  it("receives error details in grpc-status-details-bin", async () => {
    const [result] = await python3([
      { kind: "unary", path: "/user.UserService/CreateUser", requests: [hex(CreateUserRequestSchema, { username: "py", email: "nope", password: "password123" })] },
    ]);
    expect(result?.code).toBe(3);
    expect(result?.message).toContain("username: must be 3 to 32 characters");
    // Decode the google.rpc.Status bytes that grpcio received, exactly as a gRPC client library would.
    const detailsBin = Buffer.from(result?.trailers["grpc-status-details-bin"] ?? "", "hex").toString("base64");
    const error = findTrailerError(new Headers({ "grpc-status": "3", "grpc-message": "x", "grpc-status-details-bin": detailsBin }));
    expect(error?.code).toBe(3);
    expect(error?.findDetails(ValidationErrorSchema)[0]?.errors.map((e) => e.field)).toEqual(["username", "email"]);
  });

  it("is refused without a token, with UNAUTHENTICATED", async () => {
    const [result] = await python3([{ kind: "unary", path: "/user.UserService/GetUser", requests: [hex(GetUserRequestSchema, { userId: 1n })] }], "");
    expect(result?.code).toBe(16);
    expect(result?.message).toBe("missing bearer token");
  });
});
