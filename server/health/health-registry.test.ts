import { describe, expect, it } from "vitest";
import { createHealthRegistry, type ServingStatus } from "./health-registry.js";

/** Whether the promise is still unsettled after a short wait; the caller keeps it to await later. */
async function stillPending(promise: Promise<unknown>, ms = 20): Promise<boolean> {
  const timeout = new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms));
  return (await Promise.race([promise, timeout])) === "pending";
}

describe("createHealthRegistry", () => {
  it("starts with the overall service SERVING and reports unknown services as undefined", () => {
    const registry = createHealthRegistry();
    expect(registry.get("")).toBe("SERVING");
    expect(registry.get("user.UserService")).toBeUndefined();
    expect([...registry.list()]).toEqual([["", "SERVING"]]);
  });

  it("accepts explicit initial statuses, including none", () => {
    expect([...createHealthRegistry({}).list()]).toEqual([]);
    const registry = createHealthRegistry({ a: "NOT_SERVING" });
    expect(registry.get("a")).toBe("NOT_SERVING");
    expect(registry.get("")).toBeUndefined();
  });

  it("sets and lists statuses, and list() is a copy", () => {
    const registry = createHealthRegistry();
    registry.set("user.UserService", "NOT_SERVING");
    registry.set("user.UserService", "SERVING");
    const snapshot = registry.list();
    registry.set("other", "UNKNOWN");
    expect([...snapshot]).toEqual([
      ["", "SERVING"],
      ["user.UserService", "SERVING"],
    ]);
    expect(registry.get("other")).toBe("UNKNOWN");
  });

  it("watch yields the current status at once, then only changes", async () => {
    const registry = createHealthRegistry();
    const ac = new AbortController();
    const it = registry.watch("", ac.signal)[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ done: false, value: "SERVING" });
    registry.set("", "SERVING"); // no change, nothing to report
    registry.set("other", "NOT_SERVING"); // another service, nothing to report
    const next = it.next();
    expect(await stillPending(next)).toBe(true);
    registry.set("", "NOT_SERVING");
    expect(await next).toEqual({ done: false, value: "NOT_SERVING" });
    ac.abort();
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("coalesces changes so a slow watcher sees only the latest status", async () => {
    const registry = createHealthRegistry();
    const ac = new AbortController();
    const it = registry.watch("", ac.signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe("SERVING");
    const burst: ServingStatus[] = ["NOT_SERVING", "UNKNOWN", "SERVING", "NOT_SERVING"];
    for (const s of burst) registry.set("", s);
    expect(await it.next()).toEqual({ done: false, value: "NOT_SERVING" });
    // A change that is undone before the watcher looks is no change at all.
    registry.set("", "SERVING");
    registry.set("", "NOT_SERVING");
    const next = it.next();
    expect(await stillPending(next)).toBe(true);
    ac.abort();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it("watching an unknown service yields undefined, then its status once set", async () => {
    const registry = createHealthRegistry();
    const ac = new AbortController();
    const it = registry.watch("late", ac.signal)[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ done: false, value: undefined });
    const pending = it.next();
    registry.set("late", "SERVING");
    expect(await pending).toEqual({ done: false, value: "SERVING" });
    ac.abort();
  });

  it("ends a watch that is waiting when its signal aborts, and yields nothing for an aborted signal", async () => {
    const registry = createHealthRegistry();
    const ac = new AbortController();
    const it = registry.watch("", ac.signal)[Symbol.asyncIterator]();
    await it.next();
    const pending = it.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });

    const seen: unknown[] = [];
    for await (const s of registry.watch("", AbortSignal.abort())) seen.push(s);
    expect(seen).toEqual([]);
  });

  it("supports several watchers of one service independently", async () => {
    const registry = createHealthRegistry();
    const ac = new AbortController();
    const a = registry.watch("", ac.signal)[Symbol.asyncIterator]();
    const b = registry.watch("", ac.signal)[Symbol.asyncIterator]();
    await a.next();
    await b.next();
    const [na, nb] = [a.next(), b.next()];
    registry.set("", "NOT_SERVING");
    expect((await na).value).toBe("NOT_SERVING");
    expect((await nb).value).toBe("NOT_SERVING");
    ac.abort();
  });

  it("shutdown marks every service NOT_SERVING and ignores set() until resume()", async () => {
    const registry = createHealthRegistry();
    registry.set("user.UserService", "SERVING");
    registry.set("user.AuthService", "UNKNOWN");
    const ac = new AbortController();
    const it = registry.watch("user.UserService", ac.signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe("SERVING");

    registry.shutdown();
    expect(registry.isShutdown).toBe(true);
    expect(Object.fromEntries(registry.list())).toEqual({
      "": "NOT_SERVING",
      "user.UserService": "NOT_SERVING",
      "user.AuthService": "NOT_SERVING",
    });
    expect((await it.next()).value).toBe("NOT_SERVING");

    registry.set("user.UserService", "SERVING");
    registry.set("new.Service", "SERVING");
    expect(registry.get("user.UserService")).toBe("NOT_SERVING");
    expect(registry.get("new.Service")).toBeUndefined();
    const next = it.next();
    expect(await stillPending(next)).toBe(true);

    registry.resume();
    expect(registry.isShutdown).toBe(false);
    expect(Object.fromEntries(registry.list())).toEqual({
      "": "SERVING",
      "user.UserService": "SERVING",
      "user.AuthService": "SERVING",
    });
    expect((await next).value).toBe("SERVING");
    registry.set("user.UserService", "NOT_SERVING");
    expect((await it.next()).value).toBe("NOT_SERVING");
    ac.abort();
  });
});
