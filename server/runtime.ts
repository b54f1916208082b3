import type { Logger } from "pino";
import type { AppDeps } from "./app.js";
import { createRedisInvalidationChannel } from "./cache/redis-invalidation-channel.js";
import { createInProcessBus } from "./chat/chat-bus.js";
import { createRedisBus } from "./chat/redis-bus.js";
import type { Config } from "./config.js";
import { systemClock } from "./domain/types.js";
import { createCallLimiter } from "./interceptors/rate-limit.js";
import { createLoginThrottle } from "./security/login-throttle.js";
import { createPasswordHasher } from "./security/password-hasher.js";
import { limiterFactory, type MakeLimiter } from "./security/redis-limiters.js";
import { connectRedis, type SharedRedis } from "./shared-redis.js";
import { openStorage } from "./storage/open-storage.js";

/** The adapters chosen by the config, and how to release them after the app has closed. */
export interface Runtime {
  deps: AppDeps;
  /** The Redis connection shared by the bus and the limiters, when REDIS_URL is set; its healthy()/ping() suit readiness. */
  redis: SharedRedis | undefined;
  /** Makes rate limiters: Redis-backed (shared by all replicas) when REDIS_URL is set, in-process otherwise. */
  makeLimiter: MakeLimiter;
  close(): Promise<void>;
}

/**
 * Picks and opens the adapters the config asks for: SQLite or PostgreSQL,
 * in-process or shared bus, the bcrypt pool. main.ts and cross-process tests
 * use this; in-process tests may pass their own adapters to buildApp instead.
 */
export async function createRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const storage = await openStorage(config);
  const hasher = await createPasswordHasher({ cost: config.bcryptCost, threads: config.bcryptThreads, nice: config.bcryptNice });
  // With REDIS_URL, chat signals, login throttling and call rate limits are shared by every replica.
  const redis =
    config.redisUrl === undefined ? undefined : await connectRedis({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, logger });
  const bus = redis === undefined ? createInProcessBus() : await createRedisBus({ redis, logger });
  const makeLimiter = limiterFactory(redis);
  const userInvalidations = redis === undefined ? undefined : await createRedisInvalidationChannel(redis, logger);
  const shared =
    redis === undefined
      ? {}
      : {
          loginThrottle: createLoginThrottle({ maxFailures: config.loginMaxFailures, windowSeconds: config.loginWindowSeconds, makeLimiter }),
          callLimiter: createCallLimiter({ perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst, makeLimiter }),
        };
  return {
    deps: { storage, hasher, clock: systemClock, bus, logger, ...shared, ...(userInvalidations === undefined ? {} : { userInvalidations }) },
    redis,
    makeLimiter,
    async close() {
      await bus.close();
      await userInvalidations?.close();
      await hasher.close();
      await storage.close();
      await redis?.close();
    },
  };
}
