import { RateLimiterRedis } from "rate-limiter-flexible";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { DomainError } from "../domain/errors.js";
import { ADDRESS_FAILURE_FACTOR, accountKey, createLoginThrottle } from "./login-throttle.js";

async function outcome(promise: Promise<void>): Promise<DomainError | "allowed"> {
  try {
    await promise;
    return "allowed";
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
}

describe("login throttle", () => {
  it("allows maxFailures attempts per account, then refuses with a retry delay within the window", async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toBe("allowed");
    const refused = await outcome(throttle.begin("alice", "10.0.0.2"));
    expect(refused).toBeInstanceOf(DomainError);
    const error = refused as DomainError;
    expect(error.kind).toBe("resource_exhausted");
    expect(error.message).toMatch(/too many failed logins for this account; retry in \d+ s/);
    expect(error.details.retryAfterMs).toBeGreaterThan(50_000);
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it("counts an account case-insensitively and ignores surrounding spaces", async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 60 });
    await throttle.begin("Alice", "10.0.0.1");
    await throttle.begin(" alice ", "10.0.0.1");
    expect(await outcome(throttle.begin("ALICE", "10.0.0.1"))).toMatchObject({ kind: "resource_exhausted" });
  });

  it("keeps accounts apart: one throttled account does not affect another", async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 60 });
    await throttle.begin("alice", "10.0.0.1");
    await throttle.begin("alice", "10.0.0.1");
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toMatchObject({ kind: "resource_exhausted" });
    expect(await outcome(throttle.begin("bob", "10.0.0.1"))).toBe("allowed");
  });

  it("counts parallel attempts before any password is checked, so a burst cannot slip past the limit", async () => {
    const throttle = createLoginThrottle({ maxFailures: 5, windowSeconds: 60 });
    const results = await Promise.all(Array.from({ length: 50 }, () => outcome(throttle.begin("alice", "10.0.0.1"))));
    expect(results.filter((r) => r === "allowed")).toHaveLength(5);
  });

  it("a success clears the account's failures and returns the address's attempt", async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 60 });
    await throttle.begin("alice", "10.0.0.1");
    await throttle.begin("alice", "10.0.0.1");
    await throttle.succeeded("alice", "10.0.0.1");
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toBe("allowed");
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toBe("allowed");
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toMatchObject({ kind: "resource_exhausted" });
  });

  it("limits one address across many accounts at ADDRESS_FAILURE_FACTOR times the account limit", async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 60 });
    for (let i = 0; i < 2 * ADDRESS_FAILURE_FACTOR; i++) {
      expect(await outcome(throttle.begin(`user${i}`, "10.0.0.9"))).toBe("allowed");
    }
    const refused = await outcome(throttle.begin("fresh-account", "10.0.0.9"));
    expect(refused).toMatchObject({ kind: "resource_exhausted" });
    expect((refused as DomainError).message).toMatch(/from this address/);
    expect(await outcome(throttle.begin("fresh-account", "10.0.0.10"))).toBe("allowed");
  });

  it("lets attempts through again once the window has passed", async () => {
    const throttle = createLoginThrottle({ maxFailures: 1, windowSeconds: 1 });
    await throttle.begin("alice", "10.0.0.1");
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toMatchObject({ kind: "resource_exhausted" });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await outcome(throttle.begin("alice", "10.0.0.1"))).toBe("allowed");
  });

  it("fails closed with UNAVAILABLE when the limiter's store is unreachable", async () => {
    // A real Redis client that was never connected: every command fails, as in an outage.
    const client = createClient({ url: "redis://127.0.0.1:6379", socket: { reconnectStrategy: false } });
    const throttle = createLoginThrottle({
      maxFailures: 5,
      windowSeconds: 60,
      makeLimiter: (o) => new RateLimiterRedis({ ...o, storeClient: client, useRedisPackage: true }),
    });
    const refused = await outcome(throttle.begin("alice", "10.0.0.1"));
    expect(refused).toMatchObject({ kind: "unavailable", message: "login is temporarily unavailable; try again shortly" });
  });

  it("bounds the key of an absurdly long account name", () => {
    expect(accountKey(`  ${"A".repeat(1_000_000)}`)).toHaveLength(320);
  });
});
