/** Writes a run's results as JSON under bench/results/ (gitignored) so runs can be compared later. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WorkloadResult } from "./types.js";

export interface BenchReport {
  schema: 1;
  mode: "full" | "smoke";
  startedAt: string;
  finishedAt: string;
  machine: {
    cores: number;
    cpuModel: string;
    platform: string;
    node: string;
    /** 1-minute load average when the run started and ended; high values mean noisy figures. */
    loadAverage: { start: number; end: number };
    pinning: { enabled: boolean; serverCore: number | null; loadCore: number | null; note: string };
  };
  tools: { h2load: string; wrk: string };
  config: Record<string, unknown>;
  targets: Record<string, { status: "ran" | "skipped" | "failed"; reason?: string }>;
  workloads: WorkloadResult[];
}

/** The keys every report has at the top level (the smoke test checks them). */
export const REPORT_KEYS = ["schema", "mode", "startedAt", "finishedAt", "machine", "tools", "config", "targets", "workloads"] as const;

export const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));

/** Default path: bench/results/bench-<mode>-<timestamp>.json. */
export function defaultResultsPath(mode: string, startedAt: Date): string {
  return join(RESULTS_DIR, `bench-${mode}-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
}

/** Writes the report (NaN/Infinity become null) and returns the path. */
export async function writeReport(path: string, report: BenchReport): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const json = JSON.stringify(report, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2);
  await writeFile(path, json + "\n");
  return path;
}
