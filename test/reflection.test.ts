/**
 * Server reflection against a real server process: buf curl and
 * grpc-js-reflection-client discover, describe and call every service
 * without local .proto files.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const buf = path.join(root, "node_modules", ".bin", "buf");
const ADMIN_PASSWORD = "admin-test-password";

const services = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "user.AuthService",
  "user.UserService",
];

let server: SpawnedServer;
beforeAll(async () => {
  server = await spawnServer({}, { timeoutMs: 90_000 });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** buf curl over h2c with reflection; resolves with stdout, rejects with stderr on a failed call. */
async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(buf, ["curl", "--http2-prior-knowledge", "--reflect", ...args], { cwd: root, timeout: 30_000 });
  return stdout;
}

describe.each(["grpc-v1", "grpc-v1alpha"])("buf curl --reflect-protocol %s", (reflectProtocol) => {
  const reflect = ["--reflect-protocol", reflectProtocol];

  it("lists every service", async () => {
    expect(await bufCurl([...reflect, "--list-services", server.url])).toBe(`${services.join("\n")}\n`);
  });

  it("lists the methods of every service", async () => {
    // buf curl prints them sorted.
    const methods = (await bufCurl([...reflect, "--list-methods", server.url])).trim().split("\n");
    const of = (service: string) => methods.filter((m) => m.startsWith(`${service}/`)).map((m) => m.slice(service.length + 1));
    expect(of("user.AuthService")).toEqual(["Login", "RefreshToken", "WhoAmI"]);
    expect(of("user.UserService")).toEqual([
      "BatchCreateUsers",
      "CreateUser",
      "DeleteUser",
      "GetUser",
      "ListUsers",
      "SendChatMessage",
      "SubscribeChat",
      "UpdateUser",
      "UserChat",
    ]);
    expect(of("grpc.health.v1.Health")).toEqual(["Check", "List", "Watch"]);
    expect(of("grpc.reflection.v1.ServerReflection")).toEqual(["ServerReflectionInfo"]);
  });

  it.each(["grpc", "grpcweb", "connect"])("logs in and calls GetUser with the token over %s", async (protocol) => {
    const login = JSON.parse(
      await bufCurl([...reflect, "--protocol", protocol, "--data", JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }), `${server.url}/user.AuthService/Login`]),
    ) as { accessToken?: string; user?: { username?: string } };
    expect(typeof login.accessToken).toBe("string");
    const got = JSON.parse(
      await bufCurl([
        ...reflect,
        "--protocol",
        protocol,
        "-H",
        `Authorization: Bearer ${login.accessToken}`,
        "--data",
        '{"userId":"1"}',
        `${server.url}/user.UserService/GetUser`,
      ]),
    ) as { found?: boolean; user?: { id?: string; username?: string } };
    expect(got).toMatchObject({ found: true, user: { id: "1", username: "admin" } });
  });

  it("reports UNAUTHENTICATED when the token is missing, through the reflected schema", async () => {
    const failure = await bufCurl([...reflect, "--protocol", "grpc", "--data", '{"userId":"1"}', `${server.url}/user.UserService/GetUser`]).then(
      () => undefined,
      (error: { stderr?: string }) => error.stderr ?? "",
    );
    expect(failure).toContain('"code": "unauthenticated"');
    expect(failure).toContain("missing bearer token");
  });
});

describe.each(["v1", "v1alpha"] as const)("grpc-js-reflection-client %s", (version) => {
  it("lists and describes every service with linkable descriptors", async () => {
    const client = new GrpcReflection(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {}, version);
    try {
      expect([...(await client.listServices())].sort()).toEqual(services);
      const auth = await client.getDescriptorBySymbol("user.AuthService");
      const definition = auth.getPackageDefinition();
      expect(Object.keys(definition)).toContain("user.AuthService");
      expect((await client.listMethods("user.AuthService")).map((m) => m.name)).toEqual(["Login", "WhoAmI", "RefreshToken"]);
      expect((await client.listMethods("grpc.health.v1.Health")).map((m) => m.name)).toEqual(["Check", "Watch", "List"]);
      // The descriptor is complete enough to call the server with grpc-js alone.
      const Auth = grpc.loadPackageDefinition(definition) as unknown as {
        user: { AuthService: new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, Function> };
      };
      const stub = new Auth.user.AuthService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      // proto-loader keeps the .proto field names (snake_case) by default.
      const res = await new Promise<{ access_token: string }>((resolve, reject) =>
        stub["Login"]!({ username: "admin", password: ADMIN_PASSWORD }, (err: Error | null, r: { access_token: string }) => (err ? reject(err) : resolve(r))),
      );
      stub.close();
      expect(res.access_token.split(".")).toHaveLength(3);
    } finally {
      (client as unknown as { client: grpc.Client }).client.close();
    }
  });
});
