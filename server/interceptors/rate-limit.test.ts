import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { createClient as createRedisClient } from "redis";
import { describe, expect, it } from "vitest";
import { AuthService, LoginResponseSchema, WhoAmIResponseSchema } from "../../gen/user/auth_pb.js";
import { servicesAvailable, testRedisPrefix, testRedisUrl } from "../../test/support/services.js";
import type { Principal } from "../domain/types.js";
import { clientAddressKey, principalKey } from "./context-keys.js";
import { createErrorMappingInterceptor } from "./error-mapping.js";
import { createCallLimiter, createRateLimitInterceptor, type CallLimiter } from "./rate-limit.js";

/** Sets who is calling from where, as the host and the auth interceptor would. */
function caller(principal: Principal | undefined, address: string): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(principalKey, principal);
    req.contextValues.set(clientAddressKey, address);
    return next(req);
  };
}

function client(limiter: CallLimiter, principal: Principal | undefined, address: string, onStoreError?: (e: unknown) => void) {
  const transport = createRouterTransport(
    (router) =>
      router.service(AuthService, {
        login: () => create(LoginResponseSchema, {}),
        whoAmI: () => create(WhoAmIResponseSchema, {}),
        refreshToken() {
          throw new Error("not used");
        },
      }),
    {
      router: {
        interceptors: [createErrorMappingInterceptor(() => {}), caller(principal, address), createRateLimitInterceptor({ limiter, onStoreError })],
      },
    },
  );
  return createClient(AuthService, transport);
}

const alice: Principal = { userId: 1, username: "alice", roles: ["user"], isAdmin: false };
const bob: Principal = { userId: 2, username: "bob", roles: ["user"], isAdmin: false };

async function outcome(call: Promise<unknown>): Promise<ConnectError | "ok"> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return ConnectError.from(error);
  }
}

describe("createCallLimiter", () => {
  it("allows the per-second share of the rate plus the burst, then refuses", async () => {
    // 120 a minute = 2 a second, plus a burst of 3.
    const limiter = createCallLimiter({ perMinute: 120, burst: 3 });
    const results = await Promise.all(Array.from({ length: 10 }, () => outcome(limiter.consume("k"))));
    expect(results.filter((r) => r === "ok")).toHaveLength(5);
  });

  it("takes a tenth of the rate as the burst when none is given", async () => {
    const limiter = createCallLimiter({ perMinute: 600, burst: 0 });
    let ok = 0;
    for (let i = 0; i < 200; i++) if ((await outcome(limiter.consume("k"))) === "ok") ok++;
    expect(ok).toBe(10 + 60);
  });

  it("spreads a small rate over a longer window instead of rounding it up to one a second", async () => {
    const limiter = createCallLimiter({ perMinute: 20, burst: 1 });
    let ok = 0;
    for (let i = 0; i < 10; i++) if ((await outcome(limiter.consume("k"))) === "ok") ok++;
    expect(ok).toBe(2);
  });

  it("refills the sustained rate with time", async () => {
    const limiter = createCallLimiter({ perMinute: 60, burst: 1 });
    expect(await outcome(limiter.consume("k"))).toBe("ok");
    expect(await outcome(limiter.consume("k"))).toBe("ok");
    expect(await outcome(limiter.consume("k"))).not.toBe("ok");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await outcome(limiter.consume("k"))).toBe("ok");
  });
});

describe("rate limit interceptor", () => {
  it("refuses with RESOURCE_EXHAUSTED and a retry delay once a principal's bucket is empty, leaving other principals alone", async () => {
    const limiter = createCallLimiter({ perMinute: 60, burst: 2 });
    const asAlice = client(limiter, alice, "10.0.0.1");
    for (let i = 0; i < 3; i++) expect(await outcome(asAlice.whoAmI({}))).toBe("ok");
    const refused = await outcome(asAlice.whoAmI({}));
    expect(refused).toBeInstanceOf(ConnectError);
    const error = refused as ConnectError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toMatch(/^rate limit exceeded; retry in \d+ s$/);
    expect(Number(error.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Same address, different principal: its own bucket.
    expect(await outcome(client(limiter, bob, "10.0.0.1").whoAmI({}))).toBe("ok");
  });

  it("counts anonymous calls per client address", async () => {
    const limiter = createCallLimiter({ perMinute: 60, burst: 1 });
    const anon = client(limiter, undefined, "10.0.0.7");
    expect(await outcome(anon.login({}))).toBe("ok");
    expect(await outcome(anon.login({}))).toBe("ok");
    expect(await outcome(anon.login({}))).toMatchObject({ code: Code.ResourceExhausted });
    expect(await outcome(client(limiter, undefined, "10.0.0.8").login({}))).toBe("ok");
    // A signed-in caller from the throttled address is counted as themself.
    expect(await outcome(client(limiter, alice, "10.0.0.7").login({}))).toBe("ok");
  });

  it("lets calls through and reports it when the limiter's store fails", async () => {
    const redis = createRedisClient({ url: "redis://127.0.0.1:6379", socket: { reconnectStrategy: false } });
    const broken = createCallLimiter({ perMinute: 1, burst: 1, makeLimiter: (o) => new RateLimiterRedis({ ...o, storeClient: redis, useRedisPackage: true }) });
    const reported: unknown[] = [];
    const c = client(broken, alice, "10.0.0.1", (e) => reported.push(e));
    for (let i = 0; i < 3; i++) expect(await outcome(c.whoAmI({}))).toBe("ok");
    expect(reported).toHaveLength(3);
  });

  it("shares one bucket between replicas through Redis", async () => {
    if (!(await servicesAvailable("redis"))) return;
    const redis = createRedisClient({ url: testRedisUrl });
    await redis.connect();
    try {
      const prefix = testRedisPrefix();
      const replica = () =>
        createCallLimiter({
          perMinute: 60,
          burst: 1,
          makeLimiter: (o) => new RateLimiterRedis({ ...o, keyPrefix: `${prefix}${o.keyPrefix}`, storeClient: redis, useRedisPackage: true }),
        });
      const a = client(replica(), alice, "10.0.0.1");
      const b = client(replica(), alice, "10.0.0.2");
      expect(await outcome(a.whoAmI({}))).toBe("ok");
      expect(await outcome(b.whoAmI({}))).toBe("ok");
      expect(await outcome(a.whoAmI({}))).toMatchObject({ code: Code.ResourceExhausted });
      expect(await outcome(b.whoAmI({}))).toMatchObject({ code: Code.ResourceExhausted });
    } finally {
      redis.destroy();
    }
  });
});
