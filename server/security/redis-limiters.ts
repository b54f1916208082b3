import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { RedisClient } from "../shared-redis.js";

/** What the login throttle and the call rate limit ask for: one limiter with these points per duration (seconds). */
export interface LimiterSpec {
  keyPrefix: string;
  points: number;
  duration: number;
}

/** The makeLimiter hook of createLoginThrottle and createCallLimiter. */
export type MakeLimiter = (spec: LimiterSpec) => RateLimiterAbstract;

export interface RedisLimiterOptions extends LimiterSpec {
  client: RedisClient;
  /** The deployment's REDIS_KEY_PREFIX, put before the limiter's own keyPrefix. */
  prefix: string;
}

/**
 * A limiter whose counters live in Redis, so every replica counts against the
 * same budget. While Redis is unreachable it answers at once from an
 * in-process insurance limiter instead (rate-limiter-flexible's
 * insuranceLimiter): limits then hold per replica until Redis is back.
 */
export function makeRedisLimiter(options: RedisLimiterOptions): RateLimiterAbstract {
  const { client, prefix, ...spec } = options;
  return new RateLimiterRedis({
    storeClient: client,
    useRedisPackage: true,
    rejectIfRedisNotReady: true,
    keyPrefix: `${prefix}${spec.keyPrefix}`,
    points: spec.points,
    duration: spec.duration,
    insuranceLimiter: new RateLimiterMemory(spec),
  });
}

/** The makeLimiter hook for a deployment: Redis-backed when a client is given, in-process memory otherwise. */
export function limiterFactory(redis: { client: RedisClient; keyPrefix: string } | undefined): MakeLimiter {
  if (redis === undefined) return (spec) => new RateLimiterMemory(spec);
  return (spec) => makeRedisLimiter({ ...spec, client: redis.client, prefix: redis.keyPrefix });
}
