import { describe, expect, it } from "vitest";
import { createPicker, parseStrategy, randomPick, roundRobin, weightedRoundRobin } from "./balancer-strategy.js";

const a = { key: "a", weight: 1 };
const b = { key: "b", weight: 1 };
const c = { key: "c", weight: 1 };

describe("round-robin", () => {
  it("takes each candidate in turn", () => {
    const pick = roundRobin();
    expect(Array.from({ length: 7 }, () => pick([a, b, c]).key).join("")).toBe("abcabca");
  });
});

describe("weighted (smooth)", () => {
  it("gives each candidate exactly its weight per cycle, interleaved", () => {
    const pick = weightedRoundRobin();
    const heavy = { key: "a", weight: 5 };
    const light = [
      { key: "b", weight: 1 },
      { key: "c", weight: 1 },
    ];
    const seq = Array.from({ length: 14 }, () => pick([heavy, ...light]).key).join("");
    // nginx's reference sequence for weights 5,1,1.
    expect(seq).toBe("aabacaaaabacaa");
  });

  it("hands an absent candidate's share to the others", () => {
    const pick = weightedRoundRobin();
    const heavy = { key: "a", weight: 3 };
    const seq = Array.from({ length: 6 }, () => pick([heavy]).key).join("");
    expect(seq).toBe("aaaaaa");
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 40; i++) counts[pick([heavy, { key: "b", weight: 1 }]).key as "a" | "b"]++;
    expect(counts).toEqual({ a: 30, b: 10 });
  });
});

describe("random", () => {
  it("maps the random number onto the candidates", () => {
    const values = [0, 0.34, 0.67, 0.999];
    const pick = randomPick(() => values.shift() ?? 0);
    expect([pick([a, b, c]), pick([a, b, c]), pick([a, b, c]), pick([a, b, c])].map((x) => x.key)).toEqual(["a", "b", "c", "c"]);
  });

  it("createPicker builds each strategy", () => {
    expect(createPicker("random", () => 0.5)([a, b]).key).toBe("b");
    expect(createPicker("round-robin")([a, b]).key).toBe("a");
    expect(createPicker("weighted")([a, { key: "b", weight: 2 }]).key).toBe("b");
  });
});

describe("parseStrategy", () => {
  it("accepts the three names and rejects others", () => {
    expect(parseStrategy("Round_Robin")).toBe("round-robin");
    expect(parseStrategy("weighted")).toBe("weighted");
    expect(() => parseStrategy("least-loaded")).toThrow(/round-robin, weighted or random/);
  });
});
