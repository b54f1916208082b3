import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BatchCreateUsersResponseSchema, GetUserResponseSchema, UserSchema, UserService } from "../../gen/user/user_pb.js";
import { parseMetrics, valueOf } from "../../test/support/prometheus-text.js";
import { allCodeNames, codeName } from "../observability/rpc-call.js";
import { createServerMetrics } from "../observability/server-metrics.js";
import { createMetricsInterceptor } from "./metrics.js";

const impl: Partial<ServiceImpl<typeof UserService>> = {
  getUser(req) {
    if (req.userId === 0n) throw new ConnectError("user_id is required", Code.InvalidArgument);
    if (req.userId === 404n) throw new ConnectError("no such user", Code.NotFound);
    return create(GetUserResponseSchema, { found: true });
  },
  async *listUsers(req) {
    for (let i = 1; i <= req.pageSize; i++) yield create(UserSchema, { id: BigInt(i) });
    if (req.search === "fail") throw new ConnectError("gone", Code.Unavailable);
  },
  async batchCreateUsers(requests) {
    let n = 0;
    for await (const _ of requests) n++;
    return create(BatchCreateUsersResponseSchema, { successCount: n });
  },
};

function setup() {
  const metrics = createServerMetrics({ processMetrics: false, chatSubscribers: () => 3 });
  const transport = createRouterTransport((router) => router.service(UserService, impl), {
    router: { interceptors: [createMetricsInterceptor(metrics)] },
  });
  const scrape = async () => parseMetrics(await metrics.registry.metrics());
  return { metrics, users: createClient(UserService, transport), scrape };
}

const method = (grpc_method: string, grpc_type: string) => ({ grpc_service: "user.UserService", grpc_method, grpc_type });

describe("metrics interceptor", () => {
  it("counts unary calls by go-grpc-prometheus name, label and code", async () => {
    const { users, scrape } = setup();
    await users.getUser({ userId: 1n });
    await users.getUser({ userId: 2n });
    await expect(users.getUser({ userId: 0n })).rejects.toThrow();
    await expect(users.getUser({ userId: 404n })).rejects.toThrow();
    const s = await scrape();
    const labels = method("GetUser", "unary");
    expect(valueOf(s, "grpc_server_started_total", labels)).toBe(4);
    expect(valueOf(s, "grpc_server_handled_total", { ...labels, grpc_code: "OK" })).toBe(2);
    expect(valueOf(s, "grpc_server_handled_total", { ...labels, grpc_code: "InvalidArgument" })).toBe(1);
    expect(valueOf(s, "grpc_server_handled_total", { ...labels, grpc_code: "NotFound" })).toBe(1);
    expect(valueOf(s, "grpc_server_msg_received_total", labels)).toBe(4);
    expect(valueOf(s, "grpc_server_msg_sent_total", labels)).toBe(2);
    expect(valueOf(s, "grpc_server_handling_seconds_count", labels)).toBe(4);
    expect(valueOf(s, "grpc_server_handling_seconds_bucket", { ...labels, le: "+Inf" })).toBe(4);
    expect(valueOf(s, "users_chat_subscribers")).toBe(3);
  });

  it("counts stream messages one by one and the stream's final code", async () => {
    const { users, scrape } = setup();
    const got = [];
    for await (const u of users.listUsers({ pageSize: 5 })) got.push(u);
    expect(got).toHaveLength(5);
    await expect(
      (async () => {
        for await (const _ of users.listUsers({ pageSize: 2, search: "fail" }));
      })(),
    ).rejects.toThrow();
    async function* items() {
      for (let i = 0; i < 3; i++) yield { username: `u${i}` };
    }
    await users.batchCreateUsers(items());
    const s = await scrape();
    const list = method("ListUsers", "server_stream");
    expect(valueOf(s, "grpc_server_started_total", list)).toBe(2);
    expect(valueOf(s, "grpc_server_msg_received_total", list)).toBe(2);
    expect(valueOf(s, "grpc_server_msg_sent_total", list)).toBe(7);
    expect(valueOf(s, "grpc_server_handled_total", { ...list, grpc_code: "OK" })).toBe(1);
    expect(valueOf(s, "grpc_server_handled_total", { ...list, grpc_code: "Unavailable" })).toBe(1);
    expect(valueOf(s, "grpc_server_open_streams", list)).toBe(0);
    const batch = method("BatchCreateUsers", "client_stream");
    expect(valueOf(s, "grpc_server_msg_received_total", batch)).toBe(3);
    expect(valueOf(s, "grpc_server_msg_sent_total", batch)).toBe(1);
    expect(valueOf(s, "grpc_server_handled_total", { ...batch, grpc_code: "OK" })).toBe(1);
  });

  it("names codes exactly as Go's codes.Code.String()", () => {
    expect(allCodeNames).toEqual([
      "OK",
      "Canceled",
      "Unknown",
      "InvalidArgument",
      "DeadlineExceeded",
      "NotFound",
      "AlreadyExists",
      "PermissionDenied",
      "ResourceExhausted",
      "FailedPrecondition",
      "Aborted",
      "OutOfRange",
      "Unimplemented",
      "Internal",
      "Unavailable",
      "DataLoss",
      "Unauthenticated",
    ]);
    expect(codeName(Code.Unauthenticated)).toBe("Unauthenticated");
    expect(codeName(0)).toBe("OK");
  });

  it("keeps each app's metrics in its own registry", async () => {
    const a = setup();
    const b = setup();
    await a.users.getUser({ userId: 1n });
    expect(valueOf(await a.scrape(), "grpc_server_started_total", method("GetUser", "unary"))).toBe(1);
    expect(valueOf(await b.scrape(), "grpc_server_started_total", method("GetUser", "unary"))).toBe(0);
  });
});
