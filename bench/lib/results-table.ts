/** Prints results as plain-text tables: absolute figures, ratios against each baseline, and the goals. */
import type { TargetName, WorkloadResult } from "./types.js";

function fmt(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")).join("\n");
}

/** Renders one workload's block (header, per-target rows with ratio columns, goal lines). */
export function renderWorkload(w: WorkloadResult): string {
  const lines = [`== ${w.title} [${w.id}] ==`];
  if (w.status !== "ran") {
    lines.push(`  ${w.status}: ${w.reason ?? ""}`);
    return lines.join("\n");
  }
  const names = Object.keys(w.results) as TargetName[];
  const baselines = names.filter((n) => n !== "project" && !w.results[n]!.error);
  const header = ["target", ...w.columns.map((c) => c.label), ...baselines.map((b) => `× ${b}`)];
  const rows = names.map((name) => {
    const r = w.results[name]!;
    if (r.error) return [name, `error: ${r.error.split("\n")[0]!.slice(0, 80)}`];
    const ratioCells = baselines.map((b) => {
      const ratio = w.ratios.find((x) => x.subject === name && x.against === b);
      return name === b ? "1.00×" : ratio ? `${ratio.ratio.toFixed(2)}×` : "—";
    });
    return [name, ...w.columns.map((c) => fmt(r.median[c.key], c.digits)), ...ratioCells];
  });
  const widthRows = rows.filter((r) => r.length === header.length);
  lines.push(table([header, ...widthRows]).replace(/^/gm, "  "));
  for (const r of rows) if (r.length !== header.length) lines.push(`  ${r.join("  ")}`);
  for (const name of names) {
    for (const p of w.results[name]!.problems) lines.push(`  ! ${name}: ${p}`);
  }
  for (const goal of w.goals) {
    const ratio = w.ratios.find((x) => x.subject === goal.subject && x.against === goal.against);
    const verdict = ratio ? `${ratio.ratio.toFixed(2)}× ${ratio.met ? "met" : "NOT met"}` : `n/a (${goal.subject} or ${goal.against} did not run)`;
    lines.push(`  goal ${goal.subject} ≥ ${goal.min}× ${goal.against}: ${verdict}`);
  }
  for (const goal of w.metricGoals) {
    const bound = [goal.min !== undefined ? `≥ ${goal.min}` : "", goal.max !== undefined ? `≤ ${goal.max}` : ""].filter(Boolean).join(" and ");
    const verdict = goal.value === undefined ? `n/a (${goal.target} did not run)` : `${fmt(goal.value, 2)} ${goal.met ? "met" : "NOT met"}`;
    lines.push(`  goal ${goal.target} ${goal.label} ${bound}: ${verdict}`);
  }
  return lines.join("\n");
}
