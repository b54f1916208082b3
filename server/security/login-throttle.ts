import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { resourceExhausted } from "../domain/errors.js";

/**
 * Counts failed logins per account and per client address, so password
 * guessing is slowed down without locking out other accounts.
 */
export interface LoginThrottle {
  /** Throws RESOURCE_EXHAUSTED with a retry delay while the account or address is throttled. */
  assertAllowed(account: string, address: string): Promise<void>;
  recordFailure(account: string, address: string): Promise<void>;
  /** A successful login clears the account's failures (not the address's). */
  recordSuccess(account: string): Promise<void>;
}

export interface LoginThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
  /** Makes a limiter with the given points and duration; defaults to in-process memory. */
  makeLimiter?: (opts: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract;
}

/** An address may fail this many times more than one account, since many people can share one address. */
export const ADDRESS_FAILURE_FACTOR = 4;

function retryMs(res: RateLimiterRes | null): number {
  return Math.max(1000, Math.ceil(res?.msBeforeNext ?? 1000));
}

/** Login throttling on rate-limiter-flexible; memory by default, Redis when replicas must share it. */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const make = options.makeLimiter ?? ((o) => new RateLimiterMemory(o));
  const accounts = make({ keyPrefix: "login-account", points: options.maxFailures, duration: options.windowSeconds });
  const addresses = make({
    keyPrefix: "login-address",
    points: options.maxFailures * ADDRESS_FAILURE_FACTOR,
    duration: options.windowSeconds,
  });
  const accountKey = (account: string) => account.trim().toLowerCase();

  return {
    async assertAllowed(account, address) {
      const [a, b] = await Promise.all([accounts.get(accountKey(account)), addresses.get(address)]);
      if (a !== null && a.consumedPoints >= options.maxFailures) {
        const ms = retryMs(a);
        throw resourceExhausted(`too many failed logins for this account; retry in ${Math.ceil(ms / 1000)} s`, ms);
      }
      if (b !== null && b.consumedPoints >= options.maxFailures * ADDRESS_FAILURE_FACTOR) {
        const ms = retryMs(b);
        throw resourceExhausted(`too many failed logins from this address; retry in ${Math.ceil(ms / 1000)} s`, ms);
      }
    },
    async recordFailure(account, address) {
      // consume() rejects once the points are gone; that is the state assertAllowed reads next time.
      await Promise.allSettled([accounts.consume(accountKey(account)), addresses.consume(address)]);
    },
    async recordSuccess(account) {
      await accounts.delete(accountKey(account));
    },
  };
}
