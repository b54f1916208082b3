import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "redis";
import { RateLimiterRes } from "rate-limiter-flexible";
import { servicesAvailable, testRedisPrefix, testRedisUrl } from "../../test/support/services.js";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy.js";
import { DomainError } from "../domain/errors.js";
import { createLogger } from "../logger.js";
import { createLoginThrottle } from "../security/login-throttle.js";
import { makeRedisLimiter } from "../security/redis-limiters.js";
import { connectRedis, type SharedRedis } from "../shared-redis.js";
import type { ChatBus } from "./chat-bus.js";
import { createRedisBus } from "./redis-bus.js";

const available = await servicesAvailable("redis");
const logger = createLogger("silent");

/** Counts a bus's signals and lets a test wait for the next ones. */
function watch(bus: ChatBus) {
  let count = 0;
  let waiters: Array<{ target: number; resolve: () => void }> = [];
  bus.subscribe(() => {
    count++;
    waiters = waiters.filter((w) => {
      if (count < w.target) return true;
      w.resolve();
      return false;
    });
  });
  return {
    get count() {
      return count;
    },
    /** Resolves once `more` further signals arrived; rejects after timeoutMs. */
    next(more = 1, timeoutMs = 5000): Promise<void> {
      const target = count + more;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${more} signal(s) within ${timeoutMs} ms, got ${count - (target - more)}`)), timeoutMs);
        waiters.push({ target, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!available)("Redis chat bus and limiters", () => {
  const admin = createClient({ url: testRedisUrl });
  const opened: Array<{ close(): Promise<void> }> = [];
  const prefixes: string[] = [];
  let proxy: TcpProxy | undefined;

  const open = async (prefix: string, url = testRedisUrl): Promise<{ redis: SharedRedis; bus: ChatBus }> => {
    const redis = await connectRedis({ url, keyPrefix: prefix, logger, connectWaitMs: 2000 });
    const bus = await createRedisBus({ redis, logger, subscribeWaitMs: 2000 });
    opened.push(bus, redis);
    return { redis, bus };
  };
  const newPrefix = () => {
    const p = testRedisPrefix();
    prefixes.push(p);
    return p;
  };
  /** Kills this prefix's subscriber connections the way an operator would: CLIENT KILL TYPE pubsub, narrowed to their addresses. */
  const killSubscribers = async (prefix: string): Promise<number> => {
    const list = await admin.clientList();
    let killed = 0;
    for (const c of list.filter((c) => c.name === `${prefix}chat-subscriber`)) {
      killed += Number(await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub", "ADDR", c.addr]));
    }
    return killed;
  };

  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => {
    if (!admin.isOpen) return;
    for (const prefix of prefixes) {
      for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length > 0) await admin.del(keys);
    }
    admin.destroy();
  });

  beforeAll(async () => {
    await admin.connect();
  });

  it("carries a publish from one replica to every replica of the same prefix, and no other", async () => {
    const prefix = newPrefix();
    const a = await open(prefix);
    const b = await open(prefix);
    const other = await open(newPrefix());
    const seenA = watch(a.bus);
    const seenB = watch(b.bus);
    const seenOther = watch(other.bus);
    const both = Promise.all([seenA.next(), seenB.next()]);
    await a.bus.publish(7);
    await both;
    const otherGotOwn = seenOther.next();
    await other.bus.publish(1);
    await otherGotOwn;
    expect(seenA.count).toBe(1);
    expect(seenB.count).toBe(1);
    expect(seenOther.count).toBe(1);
    expect(a.bus.healthy()).toBe(true);
  });

  it("signals once after its subscriber connection is killed, and keeps delivering", async () => {
    const prefix = newPrefix();
    const a = await open(prefix);
    const b = await open(prefix);
    const seenA = watch(a.bus);
    const seenB = watch(b.bus);
    const reconnected = Promise.all([seenA.next(), seenB.next()]);
    expect(await killSubscribers(prefix)).toBe(2);
    await reconnected;
    expect(seenA.count).toBe(1);
    expect(seenB.count).toBe(1);
    await until(() => a.bus.healthy() && b.bus.healthy());
    const delivered = Promise.all([seenA.next(), seenB.next()]);
    await a.bus.publish(8);
    await delivered;
    expect(seenA.count).toBe(2);
    expect(seenB.count).toBe(2);
  });

  it("reports unhealthy while Redis is unreachable, does not throw on publish, and catches up when it returns", async () => {
    const target = new URL(testRedisUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const prefix = newPrefix();
    const viaProxy = await open(prefix, `redis://127.0.0.1:${proxy.port}`);
    const direct = await open(prefix);
    const seen = watch(viaProxy.bus);
    expect(viaProxy.bus.healthy()).toBe(true);
    await proxy.cut();
    await until(() => !viaProxy.bus.healthy());
    await expect(viaProxy.redis.ping()).rejects.toMatchObject({ kind: "unavailable" });
    await expect(viaProxy.bus.publish(9)).resolves.toBeUndefined();
    const before = seen.count;
    // A message published elsewhere during the outage is not seen now...
    await direct.bus.publish(10);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.count).toBe(before);
    // ...but the reconnect signal makes the hub read the history, which holds it.
    const caughtUp = seen.next(1, 8000);
    await proxy.restore();
    await caughtUp;
    await until(() => viaProxy.bus.healthy(), 8000);
    await expect(viaProxy.redis.ping()).resolves.toBeUndefined();
    const live = seen.next();
    await direct.bus.publish(11);
    await live;
  });

  it("shares rate limits between replicas through Redis and falls back to per-replica memory while Redis is away", async () => {
    const target = new URL(testRedisUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const prefix = newPrefix();
    const a = await open(prefix);
    const b = await open(prefix, `redis://127.0.0.1:${proxy.port}`);
    const spec = { keyPrefix: "rpc-rate", points: 3, duration: 60 };
    const onA = makeRedisLimiter({ ...spec, client: a.redis.client, prefix });
    const onB = makeRedisLimiter({ ...spec, client: b.redis.client, prefix });
    await onA.consume("user:1");
    await onB.consume("user:1");
    await onA.consume("user:1");
    const refused = await onB.consume("user:1").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimiterRes);
    expect((refused as RateLimiterRes).remainingPoints).toBe(0);
    expect(await admin.exists(`${prefix}rpc-rate:user:1`)).toBe(1);
    await proxy.cut();
    await until(() => !b.redis.healthy());
    // B now counts alone in memory: a fresh budget of 3, then refusal; never a store error.
    for (let i = 0; i < 3; i++) await onB.consume("user:1");
    expect(await onB.consume("user:1").catch((e: unknown) => e)).toBeInstanceOf(RateLimiterRes);
  });

  it("throttles logins across replicas: failures on one count on the other", async () => {
    const prefix = newPrefix();
    const a = await open(prefix);
    const b = await open(prefix);
    const throttle = (redis: SharedRedis) =>
      createLoginThrottle({
        maxFailures: 2,
        windowSeconds: 60,
        makeLimiter: (spec) => makeRedisLimiter({ ...spec, client: redis.client, prefix }),
      });
    const onA = throttle(a.redis);
    const onB = throttle(b.redis);
    await onA.begin("Mallory", "10.0.0.1");
    await onB.begin("mallory", "10.0.0.2");
    const error = await onA.begin("MALLORY", "10.0.0.3").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe("resource_exhausted");
    expect((error as DomainError).message).toMatch(/too many failed logins for this account; retry in \d+ s/);
  });
});
