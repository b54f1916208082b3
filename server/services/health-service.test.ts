import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../gen/grpc/health/v1/health_pb.js";
import { createHealthRegistry, type HealthRegistry } from "../health/health-registry.js";
import { createHealthService, type HealthServiceOptions } from "./health-service.js";

function setup(registry: HealthRegistry = createHealthRegistry(), options?: HealthServiceOptions) {
  const transport = createRouterTransport((router) => {
    router.service(Health, createHealthService(registry, options));
  });
  return { registry, client: createClient(Health, transport) };
}

/** Open a Watch whose messages can be pulled one by one, and cancelled. */
function openWatch(client: Client<typeof Health>, service: string) {
  const ac = new AbortController();
  const it = client.watch({ service }, { signal: ac.signal })[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await it.next();
      return r.done ? "done" : r.value.status;
    },
    cancel: () => ac.abort(),
  };
}

async function stillPending(promise: Promise<unknown>, ms = 30): Promise<boolean> {
  const timeout = new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms));
  return (await Promise.race([promise, timeout])) === "pending";
}

describe("Health service", () => {
  it("Check answers the overall status and each set service", async () => {
    const { registry, client } = setup();
    registry.set("user.UserService", "NOT_SERVING");
    expect((await client.check({})).status).toBe(S.SERVING);
    expect((await client.check({ service: "user.UserService" })).status).toBe(S.NOT_SERVING);
    registry.set("user.UserService", "UNKNOWN");
    expect((await client.check({ service: "user.UserService" })).status).toBe(S.UNKNOWN);
  });

  it("Check fails with NOT_FOUND for an unknown service", async () => {
    const { client } = setup();
    const err = await client.check({ service: "nope.Service" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toBe('unknown service "nope.Service"');
  });

  it("List reports every service, and RESOURCE_EXHAUSTED above the limit", async () => {
    const { registry, client } = setup(createHealthRegistry(), { maxListedServices: 2 });
    registry.set("user.UserService", "NOT_SERVING");
    const res = await client.list({});
    expect(Object.fromEntries(Object.entries(res.statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": S.SERVING,
      "user.UserService": S.NOT_SERVING,
    });
    registry.set("third", "SERVING");
    const err = await client.list({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toBe("server health list exceeds maximum capacity: 2");
  });

  it("Watch streams the current status, then each change", async () => {
    const { registry, client } = setup();
    registry.set("user.UserService", "SERVING");
    const watch = openWatch(client, "user.UserService");
    expect(await watch.next()).toBe(S.SERVING);
    const next = watch.next();
    registry.set("user.UserService", "SERVING"); // unchanged: nothing sent
    expect(await stillPending(next)).toBe(true);
    registry.set("user.UserService", "NOT_SERVING");
    expect(await next).toBe(S.NOT_SERVING);
    registry.set("user.UserService", "SERVING");
    expect(await watch.next()).toBe(S.SERVING);
    watch.cancel();
  });

  it("Watch of an unknown service sends SERVICE_UNKNOWN and keeps watching", async () => {
    const { registry, client } = setup();
    const watch = openWatch(client, "later.Service");
    expect(await watch.next()).toBe(S.SERVICE_UNKNOWN);
    const next = watch.next();
    expect(await stillPending(next)).toBe(true);
    registry.set("later.Service", "SERVING");
    expect(await next).toBe(S.SERVING);
    watch.cancel();
  });

  it("shutdown flips Check, List and Watch to NOT_SERVING and pins it until resume", async () => {
    const { registry, client } = setup();
    registry.set("user.UserService", "SERVING");
    const overall = openWatch(client, "");
    const user = openWatch(client, "user.UserService");
    expect(await overall.next()).toBe(S.SERVING);
    expect(await user.next()).toBe(S.SERVING);

    registry.shutdown();
    expect(await overall.next()).toBe(S.NOT_SERVING);
    expect(await user.next()).toBe(S.NOT_SERVING);
    expect((await client.check({})).status).toBe(S.NOT_SERVING);
    const listed = await client.list({});
    expect(Object.values(listed.statuses).map((v) => v.status)).toEqual([S.NOT_SERVING, S.NOT_SERVING]);

    registry.set("user.UserService", "SERVING"); // ignored while shut down
    expect((await client.check({ service: "user.UserService" })).status).toBe(S.NOT_SERVING);
    const next = user.next();
    expect(await stillPending(next)).toBe(true);

    registry.resume();
    expect(await next).toBe(S.SERVING);
    expect(await overall.next()).toBe(S.SERVING);
    expect((await client.check({ service: "user.UserService" })).status).toBe(S.SERVING);
    overall.cancel();
    user.cancel();
  });

  it("Watch handler returns once its call is aborted", async () => {
    const registry = createHealthRegistry();
    const impl = createHealthService(registry);
    const ac = new AbortController();
    // Call the handler directly to observe the server side ending, not just the client.
    const context = { signal: ac.signal } as Parameters<typeof impl.watch>[1];
    const request = { service: "" } as Parameters<typeof impl.watch>[0];
    const it = impl.watch(request, context)[Symbol.asyncIterator]();
    expect(await it.next()).toMatchObject({ done: false, value: { status: S.SERVING } });
    const pending = it.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
  });
});
