import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, equals, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";
import { Health, file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_user_auth } from "../../gen/user/auth_pb.js";
import { UserService, file_user_user } from "../../gen/user/user_pb.js";
import { createHealthRegistry } from "../health/health-registry.js";
import { createHealthService } from "./health-service.js";
import { createReflectionServices } from "./reflection-service.js";

const run = promisify(execFile);
const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const buf = join(projectRoot, "node_modules/.bin/buf");

const reflectionNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
const appServices = ["user.UserService", "user.AuthService", "grpc.health.v1.Health", ...reflectionNames];

/** A reflection request in the shape both protocol versions accept. */
type Question = {
  host?: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
};

async function* each<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

/** Send all questions on one stream and collect every answer, for either protocol version. */
function asker(version: "v1" | "v1alpha", transport: Transport) {
  return async (...questions: Question[]) => {
    const responses = [];
    if (version === "v1") {
      for await (const r of createClient(ServerReflectionV1, transport).serverReflectionInfo(each(questions))) {
        responses.push(r);
      }
    } else {
      for await (const r of createClient(ServerReflectionV1alpha, transport).serverReflectionInfo(each(questions))) {
        responses.push(r);
      }
    }
    return responses;
  };
}

function routerTransport(files: FileRegistry | Parameters<typeof createReflectionServices>[0], names: string[]) {
  const services = createReflectionServices(files, names);
  return createRouterTransport((router) => {
    router.service(ServerReflectionV1, services.v1);
    router.service(ServerReflectionV1alpha, services.v1alpha);
  });
}

/** The decoded descriptors of a file_descriptor_response, or a failure naming what came instead. */
function decodeFiles(response: { messageResponse: { case: string | undefined; value?: unknown } }): FileDescriptorProto[] {
  const m = response.messageResponse;
  if (m.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${m.case}: ${JSON.stringify(m.value)}`);
  return (m.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) =>
    fromBinary(FileDescriptorProtoSchema, b),
  );
}

/** A proto2 file with top-level and nested extensions, since the app's own protos declare none. */
function extensionRegistry(): FileRegistry {
  const proto = create(FileDescriptorProtoSchema, {
    name: "ext/base.proto",
    package: "ext",
    syntax: "proto2",
    messageType: [
      {
        name: "Base",
        field: [{ name: "id", number: 1, label: Label.OPTIONAL, type: Type.INT32, jsonName: "id" }],
        extensionRange: [{ start: 100, end: 200 }],
      },
      {
        name: "Holder",
        extension: [
          { name: "nested", number: 150, label: Label.OPTIONAL, type: Type.INT32, extendee: ".ext.Base", jsonName: "nested" },
        ],
      },
    ],
    extension: [{ name: "tag", number: 123, label: Label.OPTIONAL, type: Type.STRING, extendee: ".ext.Base", jsonName: "tag" }],
    service: [{ name: "Svc", method: [{ name: "Do", inputType: ".ext.Base", outputType: ".ext.Base" }] }],
  });
  return createFileRegistry(proto, () => undefined);
}

describe.each(["v1", "v1alpha"] as const)("reflection %s over a router transport", (version) => {
  const ask = asker(version, routerTransport([file_user_auth, file_grpc_health_v1_health], appServices));

  it("lists exactly the given services", async () => {
    const [res] = await ask({ messageRequest: { case: "listServices", value: "*" } });
    expect(res?.messageResponse).toMatchObject({
      case: "listServicesResponse",
      value: { service: appServices.map((name) => ({ name })) },
    });
  });

  it("answers file_by_filename with the file and its transitive imports, complete with json_name", async () => {
    const [res] = await ask({ messageRequest: { case: "fileByFilename", value: "user/auth.proto" } });
    const files = decodeFiles(res!);
    expect(files.map((f) => f.name)).toEqual(["user/auth.proto", "user/user.proto"]);
    expect(files[0]?.dependency).toEqual(["user/user.proto"]);
    const getUser = files[1]?.messageType.find((m) => m.name === "GetUserRequest");
    expect(getUser?.field.map((f) => [f.name, f.jsonName])).toEqual([
      ["user_id", "userId"],
      ["fields", "fields"],
    ]);
  });

  it.each([
    ["user.UserService", "user/user.proto"],
    ["user.UserService.GetUser", "user/user.proto"],
    ["user.AuthService.Login", "user/auth.proto"],
    ["user.User", "user/user.proto"],
    ["user.User.full_name", "user/user.proto"],
    ["user.User.MetadataEntry", "user/user.proto"],
    ["user.User.MetadataEntry.value", "user/user.proto"],
    ["user.UpdateUserRequest._username", "user/user.proto"],
    ["user.UserStatus", "user/user.proto"],
    ["user.USER_STATUS_ACTIVE", "user/user.proto"],
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
    ["grpc.reflection.v1.ServerReflectionRequest.message_request", "grpc/reflection/v1/reflection.proto"],
    ["grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo", "grpc/reflection/v1alpha/reflection.proto"],
  ])("answers file_containing_symbol %s with %s first", async (symbol, file) => {
    const [res] = await ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } });
    expect(decodeFiles(res!)[0]?.name).toBe(file);
  });

  it.each([
    [{ case: "fileContainingSymbol", value: "user.Nope" }, "symbol not found: user.Nope"],
    [{ case: "fileContainingSymbol", value: "user.User.nope" }, "symbol not found: user.User.nope"],
    [{ case: "fileByFilename", value: "nope.proto" }, "file not found: nope.proto"],
    [
      { case: "fileContainingExtension", value: { containingType: "user.User", extensionNumber: 100 } },
      "extension not found: user.User field 100",
    ],
    [{ case: "allExtensionNumbersOfType", value: "user.Nope" }, "message type not found: user.Nope"],
  ] satisfies [Question["messageRequest"], string][])("answers %j with NOT_FOUND", async (messageRequest, message) => {
    const [res] = await ask({ messageRequest });
    expect(res?.messageResponse).toEqual({
      case: "errorResponse",
      value: expect.objectContaining({ errorCode: 5, errorMessage: message }),
    });
  });

  it("answers all_extension_numbers_of_type with none for a message nothing extends", async () => {
    const [res] = await ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "user.User" } });
    expect(res?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "user.User", extensionNumber: [] },
    });
  });

  it("answers several requests on one stream in order, echoing host and request", async () => {
    const responses = await ask(
      { host: "example:1", messageRequest: { case: "fileContainingSymbol", value: "user.Nope" } },
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } },
    );
    expect(responses.map((r) => r.messageResponse.case)).toEqual([
      "errorResponse",
      "listServicesResponse",
      "fileDescriptorResponse",
    ]);
    expect(responses[0]?.validHost).toBe("example:1");
    expect(responses[0]?.originalRequest?.messageRequest).toEqual({ case: "fileContainingSymbol", value: "user.Nope" });
  });

  it("ends the stream with INVALID_ARGUMENT for a request that asks nothing", async () => {
    const err = await ask({ messageRequest: { case: undefined } }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });
});

describe("reflection over a FileRegistry with extensions", () => {
  const ask = asker("v1", routerTransport(extensionRegistry(), ["ext.Svc"]));

  it("lists the service and finds files by top-level and nested extension", async () => {
    const [list, top, nested, byName] = await ask(
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "ext.Base", extensionNumber: 123 } } },
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "ext.Base", extensionNumber: 150 } } },
      { messageRequest: { case: "fileContainingSymbol", value: "ext.Holder.nested" } },
    );
    expect(list?.messageResponse).toMatchObject({ value: { service: [{ name: "ext.Svc" }] } });
    expect(decodeFiles(top!).map((f) => f.name)).toEqual(["ext/base.proto"]);
    expect(decodeFiles(nested!).map((f) => f.name)).toEqual(["ext/base.proto"]);
    expect(decodeFiles(byName!).map((f) => f.name)).toEqual(["ext/base.proto"]);
  });

  it("reports all extension numbers of a type, sorted", async () => {
    const [res] = await ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "ext.Base" } });
    expect(res?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "ext.Base", extensionNumber: [123, 150] },
    });
  });
});

describe("createReflectionServices", () => {
  it("refuses a service name that no given file declares", () => {
    expect(() => createReflectionServices([file_user_user], ["user.UserService", "user.AuthService"])).toThrow(
      "reflection: no descriptor for service(s) user.AuthService",
    );
  });
});

describe("reflection end to end with independent clients", () => {
  const listed = ["user.UserService", "grpc.health.v1.Health", ...reflectionNames];
  let server: Http2Server;
  const sessions = new Set<ServerHttp2Session>();
  let port = 0;
  const clients: GrpcReflection[] = [];
  const streams = { v1: 0, v1alpha: 0 };

  /** Run fn and return how many reflection streams of each version it opened. */
  async function countStreams(fn: () => Promise<unknown>): Promise<typeof streams> {
    const before = { ...streams };
    await fn();
    return { v1: streams.v1 - before.v1, v1alpha: streams.v1alpha - before.v1alpha };
  }

  beforeAll(async () => {
    const reflection = createReflectionServices([file_user_user, file_grpc_health_v1_health], listed);
    // Count streams per version, to prove each client really used the protocol version it was told to.
    const v1 = reflection.v1.serverReflectionInfo;
    const v1alpha = reflection.v1alpha.serverReflectionInfo;
    reflection.v1.serverReflectionInfo = (requests, context) => (streams.v1++, v1(requests, context));
    reflection.v1alpha.serverReflectionInfo = (requests, context) => (streams.v1alpha++, v1alpha(requests, context));
    const handler = connectNodeAdapter({
      routes(router) {
        router.service(UserService, {}); // every method answers UNIMPLEMENTED
        router.service(Health, createHealthService(createHealthRegistry()));
        router.service(ServerReflectionV1, reflection.v1);
        router.service(ServerReflectionV1alpha, reflection.v1alpha);
      },
    });
    server = createServer(handler);
    server.on("session", (s) => {
      sessions.add(s);
      s.on("close", () => sessions.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    // The client keeps its channel private; closing it lets the server close promptly.
    for (const c of clients) (c as unknown as { client: grpc.Client }).client.close();
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  describe.each(["v1", "v1alpha"] as const)("grpc-js-reflection-client %s", (version) => {
    const client = (): GrpcReflection => {
      const c = new GrpcReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {}, version);
      clients.push(c);
      return c;
    };

    it("lists the services", async () => {
      const opened = await countStreams(async () => {
        expect(await client().listServices()).toEqual(listed);
      });
      expect(opened).toEqual(version === "v1" ? { v1: 1, v1alpha: 0 } : { v1: 0, v1alpha: 1 });
    });

    it("fetches a linkable descriptor for user.UserService and lists its methods", async () => {
      const c = client();
      const descriptor = await c.getDescriptorBySymbol("user.UserService");
      expect(Object.keys(descriptor.getPackageDefinition())).toContain("user.UserService");
      expect((await c.listMethods("user.UserService")).map((m) => m.name)).toEqual([
        "GetUser",
        "CreateUser",
        "UpdateUser",
        "DeleteUser",
        "ListUsers",
        "BatchCreateUsers",
        "UserChat",
        "SubscribeChat",
        "SendChatMessage",
      ]);
    });

    it("surfaces NOT_FOUND for an unknown symbol", async () => {
      await expect(client().getDescriptorBySymbol("user.Nope")).rejects.toThrow("symbol not found: user.Nope");
    });
  });

  describe.each(["grpc-v1", "grpc-v1alpha"])("buf curl --reflect-protocol %s", (protocol) => {
    const curl = async (...args: string[]) => {
      const base = ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect", "--reflect-protocol", protocol];
      const { stdout } = await run(buf, [...base, ...args], { cwd: projectRoot });
      return stdout;
    };

    it("lists services", async () => {
      const opened = await countStreams(async () => {
        expect(await curl("--list-services", `http://127.0.0.1:${port}`)).toBe(`${[...listed].sort().join("\n")}\n`);
      });
      expect(protocol === "grpc-v1" ? opened.v1alpha : opened.v1).toBe(0);
      expect(protocol === "grpc-v1" ? opened.v1 : opened.v1alpha).toBeGreaterThan(0);
    });

    it("lists methods", async () => {
      expect(await curl("--list-methods", `http://127.0.0.1:${port}`)).toBe(
        [
          "grpc.health.v1.Health/Check",
          "grpc.health.v1.Health/List",
          "grpc.health.v1.Health/Watch",
          "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
          "user.UserService/BatchCreateUsers",
          "user.UserService/CreateUser",
          "user.UserService/DeleteUser",
          "user.UserService/GetUser",
          "user.UserService/ListUsers",
          "user.UserService/SendChatMessage",
          "user.UserService/SubscribeChat",
          "user.UserService/UpdateUser",
          "user.UserService/UserChat",
          "",
        ].join("\n"),
      );
    });

    it("calls grpc.health.v1.Health/Check through reflection", async () => {
      const out = await curl("-d", "{}", `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`);
      expect(JSON.parse(out)).toEqual({ status: "SERVING" });
      expect(out).toBe('{\n  "status": "SERVING"\n}\n');
    });

    it("encodes a user.UserService request from reflected descriptors", async () => {
      const err = await curl("-d", '{"user_id": 3}', `http://127.0.0.1:${port}/user.UserService/GetUser`).then(
        () => undefined,
        (e: { stdout: string; stderr: string }) => e,
      );
      expect(err?.stdout).toBe("");
      expect(JSON.parse(err?.stderr ?? "null")).toEqual({
        code: "unimplemented",
        message: "user.UserService.GetUser is not implemented",
      });
    });
  });

  it("serves descriptors identical to buf build's, except for comments", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reflection-test-"));
    try {
      const image = join(dir, "image.binpb");
      await run(buf, ["build", "--exclude-source-info", "-o", image], { cwd: projectRoot });
      const built = fromBinary(FileDescriptorSetSchema, await readFile(image)).file;
      const served = decodeFiles(
        (await asker("v1", routerTransport([file_user_auth, file_grpc_health_v1_health], appServices))({
          messageRequest: { case: "fileContainingSymbol", value: "user.AuthService" },
        }))[0]!,
      );
      expect(served.map((f) => f.name)).toEqual(["user/auth.proto", "user/user.proto"]);
      for (const file of served) {
        const reference = built.find((f) => f.name === file.name);
        // A mismatch here usually means gen/ is stale: rerun `npx buf generate`.
        expect(reference && equals(FileDescriptorProtoSchema, file, reference), file.name).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
