/**
 * Runs one workload across its targets: probe, warm up, then alternate the
 * target order round by round and keep the median, so drift hits all alike.
 */
import { medianOfRecords } from "./stats.js";
import type { MeasureFn, MetricGoalResult, Metrics, RatioResult, RunContext, Target, TargetName, TargetResult, Workload, WorkloadResult } from "./types.js";

function skeleton(w: Workload, status: WorkloadResult["status"], reason?: string): WorkloadResult {
  return {
    id: w.id,
    title: w.title,
    status,
    ...(reason ? { reason } : {}),
    primary: w.primary.key,
    higherIsBetter: w.primary.higherIsBetter,
    columns: [...w.columns],
    goals: [...w.goals],
    metricGoals: [],
    results: {},
    ratios: [],
  };
}

/** Every subject/against pair in the workload's target order, with the goal attached where the issue sets one. */
export function computeRatios(w: Workload, results: WorkloadResult["results"]): RatioResult[] {
  const ratios: RatioResult[] = [];
  const ran = w.targets.filter((t) => results[t] && !results[t]!.error);
  for (const subject of ran) {
    for (const against of ran) {
      if (subject === against) continue;
      const a = results[subject]!.median[w.primary.key];
      const b = results[against]!.median[w.primary.key];
      if (a === undefined || b === undefined) continue;
      const ratio = w.primary.higherIsBetter ? a / b : b / a;
      const goal = w.goals.find((g) => g.subject === subject && g.against === against);
      ratios.push({ subject, against, ratio, ...(goal ? { goal: goal.min, met: ratio >= goal.min } : {}) });
    }
  }
  return ratios;
}

/** Each metric goal with the target's median figure and whether it is met (absent when the target did not run). */
export function evaluateMetricGoals(w: Workload, results: WorkloadResult["results"]): MetricGoalResult[] {
  return (w.metricGoals ?? []).map((goal) => {
    const r = results[goal.target];
    const value = r && !r.error ? r.median[goal.key] : undefined;
    if (value === undefined || !Number.isFinite(value)) return { ...goal };
    const met = (goal.min === undefined || value >= goal.min) && (goal.max === undefined || value <= goal.max);
    return { ...goal, value, met };
  });
}

/** Runs the workload on the running targets it names; failures of one target are recorded, not thrown. */
export async function runWorkload(ctx: RunContext, w: Workload, running: ReadonlyMap<TargetName, Target>): Promise<WorkloadResult> {
  if (w.status === "planned") return skeleton(w, "planned", "not implemented yet");
  const names = w.targets.filter((t) => running.has(t));
  if (names.length === 0) return skeleton(w, "skipped", "none of its targets is running");
  const out = skeleton(w, "ran");
  const measures = new Map<TargetName, MeasureFn>();
  for (const name of names) {
    try {
      measures.set(name, await w.prepare(ctx, running.get(name)!));
    } catch (err) {
      out.results[name] = { median: {}, rounds: [], problems: [], error: (err as Error).message };
      ctx.log(`  ${name}: left out — ${(err as Error).message}`);
    }
  }
  const rounds = new Map<TargetName, Metrics[]>([...measures.keys()].map((n) => [n, []]));
  const measure = async (name: TargetName, seconds: number): Promise<Metrics | undefined> => {
    try {
      return await measures.get(name)!(seconds);
    } catch (err) {
      measures.delete(name);
      out.results[name] = { median: {}, rounds: rounds.get(name) ?? [], problems: [], error: (err as Error).message };
      ctx.log(`  ${name}: failed — ${(err as Error).message}`);
      return undefined;
    }
  };
  if (ctx.config.warmupSec > 0 && w.warmup !== false) {
    for (const name of [...measures.keys()]) await measure(name, ctx.config.warmupSec);
  }
  const roundCount = w.rounds ?? ctx.config.rounds;
  for (let r = 0; r < roundCount; r++) {
    const order = [...measures.keys()];
    if (r % 2 === 1) order.reverse();
    for (const name of order) {
      if (!measures.has(name)) continue;
      const m = await measure(name, ctx.config.durationSec);
      if (!m) continue;
      rounds.get(name)!.push(m);
      ctx.log(`  round ${r + 1}/${roundCount} ${name}: ${w.primary.label} ${m[w.primary.key]?.toFixed(w.primary.digits)}`);
    }
  }
  for (const [name, list] of rounds) {
    if (!measures.has(name)) continue;
    const result: TargetResult = { median: medianOfRecords(list), rounds: list, problems: [...new Set(list.flatMap((m) => w.check(m)))] };
    out.results[name] = result;
  }
  out.ratios = computeRatios(w, out.results);
  out.metricGoals = evaluateMetricGoals(w, out.results);
  return out;
}
