import type { Interceptor } from "@connectrpc/connect";
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { resourceExhausted } from "../domain/errors.js";
import { clientAddressKey, principalKey } from "./context-keys.js";

/** What the interceptor needs of a limiter: rate-limiter-flexible's consume, which both plain and bursty limiters have. */
export interface CallLimiter {
  /** Resolves while the key has points left; rejects with a RateLimiterRes when it is empty, or with an Error when the store failed. */
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

export interface CallLimiterOptions {
  /** Sustained calls per minute for one key. */
  perMinute: number;
  /** Extra calls one key may make in a burst on top of the sustained rate; 0 means a tenth of perMinute. */
  burst: number;
  /** Makes one limiter with the given points and duration in seconds; defaults to in-process memory (pass Redis here). */
  makeLimiter?: (opts: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract;
}

/**
 * A token bucket built from rate-limiter-flexible parts: the sustained rate
 * is refilled every second (perMinute / 60 a second, or one call every few
 * seconds for small rates), and a burst reserve refilled once a minute
 * absorbs short spikes above it.
 */
export function createCallLimiter(options: CallLimiterOptions): CallLimiter {
  const make = options.makeLimiter ?? ((o) => new RateLimiterMemory(o));
  const perMinute = Math.max(1, options.perMinute);
  // The shortest window in whole seconds that holds at least one call.
  const windowSeconds = Math.max(1, Math.ceil(60 / perMinute));
  const steadyPoints = Math.max(1, Math.floor((perMinute * windowSeconds) / 60));
  const burst = options.burst > 0 ? options.burst : Math.max(1, Math.ceil(perMinute / 10));
  return new BurstyRateLimiter(
    make({ keyPrefix: "rpc-rate", points: steadyPoints, duration: windowSeconds }),
    make({ keyPrefix: "rpc-burst", points: burst, duration: 60 }),
  );
}

export interface RateLimitOptions {
  limiter: CallLimiter;
  /** Procedures that are never counted, as "package.Service/Method"; by default the health checks orchestrators poll. */
  isExempt?: (procedure: string) => boolean;
  /** Told when the limiter's store fails; the call then goes through rather than taking the service down with it. */
  onStoreError?: (error: unknown) => void;
}

const healthChecks = (procedure: string) => procedure.startsWith("grpc.health.");

/**
 * Charges one call to the caller's bucket: the principal when authenticated,
 * else the client address. An empty bucket gives RESOURCE_EXHAUSTED with a
 * retry delay. Placed inside the auth interceptor, so the principal is known.
 */
export function createRateLimitInterceptor(options: RateLimitOptions): Interceptor {
  const isExempt = options.isExempt ?? healthChecks;
  return (next) => async (req) => {
    if (isExempt(`${req.service.typeName}/${req.method.name}`)) return next(req);
    const principal = req.contextValues.get(principalKey);
    const key = principal === undefined ? `addr:${req.contextValues.get(clientAddressKey)}` : `user:${principal.userId}`;
    try {
      await options.limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        options.onStoreError?.(rejection);
        return next(req);
      }
      const ms = Math.max(1, Math.ceil(rejection.msBeforeNext));
      throw resourceExhausted(`rate limit exceeded; retry in ${Math.ceil(ms / 1000)} s`, ms);
    }
    return next(req);
  };
}
