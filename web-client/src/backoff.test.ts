import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "./backoff.js";

describe("backoffDelayMs", () => {
  it("doubles from the base and stops at the cap, between half and all of each step", () => {
    const low = (attempt: number) => backoffDelayMs(attempt, { baseMs: 100, maxMs: 1000, random: () => 0 });
    const high = (attempt: number) => backoffDelayMs(attempt, { baseMs: 100, maxMs: 1000, random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 50].map(high)).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect([0, 1, 2, 3, 4, 5, 50].map(low)).toEqual([50, 100, 200, 400, 500, 500, 500]);
  });

  it("uses 250 ms to 5 s by default and treats a negative attempt as the first", () => {
    expect(backoffDelayMs(0, { random: () => 1 })).toBe(250);
    expect(backoffDelayMs(-3, { random: () => 1 })).toBe(250);
    expect(backoffDelayMs(1000, { random: () => 1 })).toBe(5000);
  });
});
