import { describe, expect, it } from "vitest";
import { createHealthRegistry } from "./health-registry.js";
import { createHealthProbe } from "./storage-health.js";

function setup(timeoutMs = 1000) {
  const registry = createHealthRegistry({ "": "NOT_SERVING", "user.UserService": "NOT_SERVING", "user.AuthService": "NOT_SERVING" });
  const state = { storage: "up" as "up" | "down" | "hang", bus: true };
  const changes: [boolean, string | undefined][] = [];
  const probe = createHealthProbe({
    registry,
    pingStorage: () =>
      state.storage === "up"
        ? Promise.resolve()
        : state.storage === "down"
          ? Promise.reject(new Error("connection refused"))
          : new Promise<void>(() => {}),
    busHealthy: () => state.bus,
    busServices: ["user.UserService"],
    storageServices: ["user.AuthService"],
    intervalMs: 60_000,
    timeoutMs,
    onChange: (serving, reason) => changes.push([serving, reason]),
  });
  const statuses = () => Object.fromEntries(registry.list());
  return { registry, state, probe, changes, statuses };
}

describe("health probe", () => {
  it("is SERVING only after storage has answered", async () => {
    const { probe, statuses, changes } = setup();
    expect(statuses()[""]).toBe("NOT_SERVING");
    await probe.start();
    probe.stop();
    expect(statuses()).toEqual({ "": "SERVING", "user.UserService": "SERVING", "user.AuthService": "SERVING" });
    expect(changes).toEqual([[true, undefined]]);
  });

  it("goes NOT_SERVING everywhere when storage fails or hangs, and back when it answers", async () => {
    const { probe, state, statuses, changes } = setup(50);
    await probe.check();
    state.storage = "down";
    await probe.check();
    expect(statuses()).toEqual({ "": "NOT_SERVING", "user.UserService": "NOT_SERVING", "user.AuthService": "NOT_SERVING" });
    state.storage = "up";
    await probe.check();
    state.storage = "hang";
    await probe.check();
    expect(statuses()[""]).toBe("NOT_SERVING");
    state.storage = "up";
    await probe.check();
    expect(statuses()[""]).toBe("SERVING");
    expect(changes).toEqual([
      [true, undefined],
      [false, "storage: connection refused"],
      [true, undefined],
      [false, "storage: no answer within 50 ms"],
      [true, undefined],
    ]);
  });

  it("marks only the chat-carrying service down when the broker is", async () => {
    const { probe, state, statuses } = setup();
    state.bus = false;
    await probe.check();
    expect(statuses()).toEqual({ "": "SERVING", "user.UserService": "NOT_SERVING", "user.AuthService": "SERVING" });
  });

  it("cannot bring a server back to SERVING once shutdown has begun", async () => {
    const { probe, registry, statuses } = setup();
    await probe.check();
    registry.shutdown();
    await probe.check();
    expect(statuses()).toEqual({ "": "NOT_SERVING", "user.UserService": "NOT_SERVING", "user.AuthService": "NOT_SERVING" });
  });

  it("runs one check at a time", async () => {
    let pings = 0;
    const registry = createHealthRegistry();
    let release = () => {};
    const probe = createHealthProbe({
      registry,
      pingStorage: () => {
        pings++;
        return new Promise<void>((resolve) => (release = resolve));
      },
      busHealthy: () => true,
      busServices: [],
      storageServices: [],
      intervalMs: 60_000,
      timeoutMs: 5000,
    });
    const a = probe.check();
    const b = probe.check();
    release();
    await Promise.all([a, b]);
    expect(pings).toBe(1);
  });
});
