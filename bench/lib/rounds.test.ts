/** Pins how goals are judged: cross-target ratios respect lower-is-better, and metric goals honour min and max bounds. */
import { describe, expect, it } from "vitest";
import { computeRatios, evaluateMetricGoals } from "./rounds.js";
import type { TargetResult, Workload, WorkloadResult } from "./types.js";

function result(median: Record<string, number>, error?: string): TargetResult {
  return { median, rounds: [median], problems: [], ...(error ? { error } : {}) };
}

const base: Workload = {
  id: "w",
  title: "w",
  status: "ready",
  description: "",
  targets: ["project", "grpc-js"],
  primary: { key: "p99Ms", label: "p99", digits: 2, higherIsBetter: false },
  columns: [],
  goals: [{ subject: "project", against: "grpc-js", min: 1.5 }],
  metricGoals: [
    { target: "project", key: "p99Ms", label: "p99", max: 50 },
    { target: "project", key: "speedup", label: "speed-up", min: 1.7, isRatio: true },
    { target: "grpc-js", key: "p99Ms", label: "p99", max: 10 },
  ],
  prepare: () => Promise.reject(new Error("unused")),
  check: () => [],
};

describe("computeRatios", () => {
  it("turns a lower-is-better figure into 'times better' and marks the goal", () => {
    const results: WorkloadResult["results"] = { project: result({ p99Ms: 20 }), "grpc-js": result({ p99Ms: 40 }) };
    expect(computeRatios(base, results)).toEqual([
      { subject: "project", against: "grpc-js", ratio: 2, goal: 1.5, met: true },
      { subject: "grpc-js", against: "project", ratio: 0.5 },
    ]);
  });

  it("leaves out a target that failed", () => {
    const results: WorkloadResult["results"] = { project: result({ p99Ms: 20 }), "grpc-js": result({}, "boom") };
    expect(computeRatios(base, results)).toEqual([]);
  });
});

describe("evaluateMetricGoals", () => {
  it("checks max and min bounds against the target's median", () => {
    const results: WorkloadResult["results"] = { project: result({ p99Ms: 51, speedup: 1.7 }), "grpc-js": result({ p99Ms: 9.5 }) };
    expect(evaluateMetricGoals(base, results).map((g) => [g.target, g.key, g.value, g.met])).toEqual([
      ["project", "p99Ms", 51, false],
      ["project", "speedup", 1.7, true],
      ["grpc-js", "p99Ms", 9.5, true],
    ]);
  });

  it("reports no value when the target failed, did not run, or the figure is not finite", () => {
    const results: WorkloadResult["results"] = { project: result({ p99Ms: Number.NaN }, undefined) };
    const goals = evaluateMetricGoals(base, results);
    expect(goals.map((g) => g.value)).toEqual([undefined, undefined, undefined]);
    expect(goals.map((g) => g.met)).toEqual([undefined, undefined, undefined]);
  });
});
