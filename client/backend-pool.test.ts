import { describe, expect, it } from "vitest";
import { BackendPool } from "./backend-pool.js";

function poolAt(clock: { now: number }, urls = ["http://a", "http://b"]) {
  return new BackendPool(
    urls.map((url) => ({ url })),
    "round-robin",
    { baseMs: 100, maxMs: 400 },
    () => clock.now,
  );
}

describe("BackendPool", () => {
  it("validates addresses and weights", () => {
    expect(() => new BackendPool([], "random")).toThrow(/at least one/);
    expect(() => new BackendPool([{ url: "http://a", weight: 0 }], "weighted")).toThrow(/positive/);
    expect(() => new BackendPool([{ url: "http://a" }, { url: "http://a" }], "weighted")).toThrow(/twice/);
  });

  it("ejects a backend whose connection failed, for longer while failures continue, and re-admits it", () => {
    const clock = { now: 1_000 };
    const pool = poolAt(clock);
    const [a, b] = pool.backends;
    if (a === undefined || b === undefined) throw new Error("two backends expected");
    pool.recordFailure(a, true, "ECONNREFUSED");
    expect(pool.status()[0]).toMatchObject({ ejected: true, failures: 1, detail: "ECONNREFUSED" });
    expect([pool.pick(), pool.pick(), pool.pick()]).toEqual([b, b, b]);
    clock.now += 100;
    expect(pool.status()[0]?.ejected).toBe(false);
    pool.recordFailure(a, true, "again");
    clock.now += 150;
    expect(pool.status()[0]?.ejected).toBe(true);
    clock.now += 50;
    expect(pool.status()[0]?.ejected).toBe(false);
    pool.recordSuccess(a);
    pool.recordFailure(a, true, "once more");
    clock.now += 100;
    expect(pool.status()[0]?.ejected).toBe(false);
  });

  it("a failure that is not the connection's fault does not eject", () => {
    const pool = poolAt({ now: 0 });
    const a = pool.backends[0];
    if (a === undefined) throw new Error("backend expected");
    pool.recordFailure(a, false, "NOT_FOUND");
    expect(pool.status()[0]).toMatchObject({ ejected: false, failures: 1 });
  });

  it("follows health: only serving or not-yet-checked backends are picked, SERVING ends an ejection", () => {
    const clock = { now: 0 };
    const pool = poolAt(clock, ["http://a", "http://b", "http://c"]);
    const [a, b, c] = pool.backends;
    if (a === undefined || b === undefined || c === undefined) throw new Error("three backends expected");
    pool.setHealth(a, "not-serving", "Watch: NOT_SERVING");
    pool.setHealth(b, "unreachable", "refused");
    expect(new Set([pool.pick(), pool.pick(), pool.pick()])).toEqual(new Set([c]));
    pool.recordFailure(a, true, "x");
    pool.setHealth(a, "serving", "Watch: SERVING");
    expect(pool.status()[0]?.ejected).toBe(false);
    expect(pool.backends.filter((x) => x === pool.pick(new Set([c])))).toEqual([a]);
  });

  it("prefers backends the call has not tried, and falls back to every backend when none is eligible", () => {
    const pool = poolAt({ now: 0 });
    const [a, b] = pool.backends;
    if (a === undefined || b === undefined) throw new Error("two backends expected");
    expect(pool.pick(new Set([a]))).toBe(b);
    expect(pool.hasUntried(new Set([a]))).toBe(true);
    expect(pool.hasUntried(new Set([a, b]))).toBe(false);
    pool.setHealth(a, "unreachable", "x");
    pool.setHealth(b, "unreachable", "x");
    expect(new Set([pool.pick(), pool.pick()])).toEqual(new Set([a, b]));
  });
});
