import { describe, expect, it } from "vitest";
import { LightHeaders } from "./light-headers.js";

/** Runs the same operations on LightHeaders and on the WHATWG Headers it stands in for. */
function both(raw?: Record<string, string | string[] | undefined>): [LightHeaders, Headers] {
  const real = new Headers();
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === undefined || key.startsWith(":")) continue;
    for (const v of Array.isArray(value) ? value : [value]) real.append(key, v);
  }
  return [new LightHeaders(raw), real];
}

const entries = (h: { forEach(cb: (value: string, key: string) => void): void }) => {
  const out: [string, string][] = [];
  h.forEach((value, key) => out.push([key, value]));
  return out.sort(([a], [b]) => a.localeCompare(b));
};

describe("LightHeaders", () => {
  const raw = { ":path": "/x", "content-type": "application/grpc", "x-multi": ["a", "b"], "x-gone": undefined };

  it("reads request headers case-insensitively without pseudo-headers, as Headers does", () => {
    const [light, real] = both(raw);
    for (const name of ["Content-Type", "x-multi", "x-gone", "missing"]) expect(light.get(name)).toBe(real.get(name));
    // Headers refuses to look up a pseudo-header at all; the request's own headers never show one.
    expect(light.get(":path")).toBeNull();
    expect(light.has("CONTENT-TYPE")).toBe(true);
    expect(entries(light)).toEqual(entries(real));
  });

  it("sets, appends and deletes like Headers, before and after the raw headers were copied", () => {
    const [light, real] = both(raw);
    for (const h of [light, real] as Headers[]) {
      h.set("X-Request-Id", "r1");
      h.append("x-multi", "c");
      h.append("X-New", "1");
      h.append("x-new", "2");
      h.set("content-type", "application/grpc+proto");
      h.delete("X-MULTI");
    }
    expect(entries(light)).toEqual(entries(real));
    expect([...light].sort()).toEqual([...real].sort());
    expect([...light.keys()].sort()).toEqual([...real.keys()].sort());
    expect([...light.values()].sort()).toEqual([...real.values()].sort());
    expect(light.get("x-new")).toBe("1, 2");
  });

  it("copies into an object for http2, keeping what the target already has", () => {
    const light = new LightHeaders();
    expect(light.toObject({ ":status": "200" })).toEqual({ ":status": "200" });
    light.set("grpc-status", "0");
    light.set("Grpc-Message", "ok");
    expect(light.toObject({ ":status": "200" })).toEqual({ ":status": "200", "grpc-status": "0", "grpc-message": "ok" });
    expect(new LightHeaders({ ":path": "/", a: "1" }).toObject()).toEqual({ a: "1" });
  });
});
