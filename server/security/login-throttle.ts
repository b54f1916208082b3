import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { resourceExhausted, unavailable } from "../domain/errors.js";

/**
 * Counts login attempts per account and per client address, so password
 * guessing is slowed down without locking out other accounts.
 *
 * An attempt is counted before the password is checked, so a burst of
 * parallel guesses cannot all pass the check while the first ones are still
 * hashing; a successful login hands its attempts back.
 */
export interface LoginThrottle {
  /** Counts one attempt; throws RESOURCE_EXHAUSTED with a retry delay once the account or the address is over its limit. */
  begin(account: string, address: string): Promise<void>;
  /** A successful login clears the account's failures and returns the address's attempt. */
  succeeded(account: string, address: string): Promise<void>;
}

export interface LoginThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
  /** Makes a limiter with the given points and duration; defaults to in-process memory. */
  makeLimiter?: (opts: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract;
}

/** An address may fail this many times more than one account, since many people can share one address. */
export const ADDRESS_FAILURE_FACTOR = 4;

function retryMs(res: RateLimiterRes): number {
  return Math.max(1000, Math.ceil(res.msBeforeNext));
}

/** Longest account key kept; no username or email is longer, and a huge one must not become a huge counter key. */
const ACCOUNT_KEY_MAX = 320;

/** Usernames and emails are matched case-insensitively, so their attempts must be counted that way too. */
export function accountKey(account: string): string {
  return account.slice(0, ACCOUNT_KEY_MAX * 2).trim().toLowerCase().slice(0, ACCOUNT_KEY_MAX);
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

  /** Consumes one point; true when the limiter refused, throws when the limiter's store failed. */
  const refused = async (limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | undefined> => {
    try {
      await limiter.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection;
      // Failing closed: without its counters the throttle cannot tell a guesser from a user.
      throw unavailable("login is temporarily unavailable; try again shortly");
    }
  };

  return {
    async begin(account, address) {
      const [byAccount, byAddress] = await Promise.all([refused(accounts, accountKey(account)), refused(addresses, address)]);
      if (byAccount !== undefined) {
        const ms = retryMs(byAccount);
        throw resourceExhausted(`too many failed logins for this account; retry in ${Math.ceil(ms / 1000)} s`, ms);
      }
      if (byAddress !== undefined) {
        const ms = retryMs(byAddress);
        throw resourceExhausted(`too many failed logins from this address; retry in ${Math.ceil(ms / 1000)} s`, ms);
      }
    },
    async succeeded(account, address) {
      await Promise.all([accounts.delete(accountKey(account)), addresses.reward(address, 1)]);
    },
  };
}
