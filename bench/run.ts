/**
 * Entry point of `npm run bench` / `npm run bench:smoke`: starts the project
 * server and the baselines, runs every registered workload side by side, and
 * prints and saves the figures and ratios.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readBenchConfig, type BenchConfig } from "./lib/bench-config.js";
import { BASELINES, startBaseline } from "./lib/baseline-targets.js";
import { setupPinning } from "./lib/cpu-pinning.js";
import { h2loadVersion } from "./lib/h2load-runner.js";
import { randomSecret } from "./lib/jwt-keys.js";
import { projectUnavailableReason, startProjectTarget } from "./lib/project-server.js";
import { defaultResultsPath, writeReport, type BenchReport } from "./lib/results-json.js";
import { renderWorkload } from "./lib/results-table.js";
import { runWorkload } from "./lib/rounds.js";
import { chartBars, renderRatioChart } from "./lib/svg-chart.js";
import type { RunContext, Target, TargetName, WorkloadResult } from "./lib/types.js";
import { wrkVersion } from "./lib/wrk-runner.js";
import { workloads } from "./workloads/registry.js";

export interface BenchOutcome {
  report: BenchReport;
  jsonPath: string;
  svgPath: string;
  /** Errors and insane figures found (a smoke run fails on any). */
  problems: string[];
}

function wanted(config: BenchConfig, name: TargetName): boolean {
  return config.targets.length === 0 || config.targets.includes(name);
}

/** Runs the whole benchmark with the given config and returns the report. */
export async function runBench(config: BenchConfig, log: (line: string) => void = console.log): Promise<BenchOutcome> {
  const startedAt = new Date();
  // Read before pinning: once this process is pinned to one core it reports 1.
  const cores = os.availableParallelism();
  const pinning = setupPinning(config.pin);
  const workDir = await mkdtemp(join(os.tmpdir(), "polyglot-bench-"));
  const ctx: RunContext = { config, pinning, cores, workDir, log };
  const [h2load, wrk] = await Promise.all([h2loadVersion(), wrkVersion()]);
  log(`bench ${config.mode}: ${config.users} users, ${config.rounds} round(s) × ${config.durationSec} s, warm-up ${config.warmupSec} s`);
  log(`machine: ${cores} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}; ${h2load}; ${wrk}`);
  log(`CPU pinning: ${pinning.enabled ? "on" : "off"} — ${pinning.note}`);
  log(`project command: ${config.projectCommand.join(" ")}; baseline node flags: ${config.baselineNodeFlags.join(" ") || "(none)"}`);
  const loadAtStart = os.loadavg()[0] ?? 0;
  if (loadAtStart > cores / 2) log(`warning: load average ${loadAtStart.toFixed(1)} on ${cores} cores — other work is running, figures will be noisy`);

  const running = new Map<TargetName, Target>();
  const targetStatus: BenchReport["targets"] = {};
  const problems: string[] = [];
  const secrets = { jwtSecret: randomSecret(), seedPassword: randomBytes(12).toString("base64url") };
  const results: WorkloadResult[] = [];
  try {
    const chosen = BASELINES.filter((b) => wanted(config, b));
    const started = await Promise.allSettled(chosen.map((b) => startBaseline(ctx, b, secrets)));
    started.forEach((s, i) => {
      const name = chosen[i]!;
      if (s.status === "fulfilled") {
        running.set(name, s.value);
        targetStatus[name] = { status: "ran" };
        log(`target ${name}: ${s.value.baseUrl} (pid ${s.value.pid})`);
      } else {
        targetStatus[name] = { status: "failed", reason: String((s.reason as Error).message) };
        problems.push(`${name} failed to start: ${(s.reason as Error).message}`);
        log(`target ${name}: FAILED to start — ${(s.reason as Error).message}`);
      }
    });

    const skipReason = wanted(config, "project") ? projectUnavailableReason(ctx) : "not selected by --targets";
    if (skipReason) {
      targetStatus.project = { status: "skipped", reason: skipReason };
      log(`target project: skipped (${skipReason})`);
    } else {
      try {
        const project = await startProjectTarget(ctx);
        running.set("project", project);
        targetStatus.project = { status: "ran" };
        log(`target project: ${project.baseUrl} (pid ${project.pid})`);
      } catch (err) {
        targetStatus.project = { status: "failed", reason: (err as Error).message };
        problems.push(`project failed to start: ${(err as Error).message}`);
        log(`target project: FAILED — ${(err as Error).message}`);
      }
    }

    for (const w of workloads) {
      if (config.workloads.length > 0 && !config.workloads.includes(w.id)) continue;
      log(`\n-- ${w.title} [${w.id}]`);
      const result = await runWorkload(ctx, w, running);
      results.push(result);
      log(renderWorkload(result));
      for (const [name, r] of Object.entries(result.results)) {
        if (r.error) problems.push(`${w.id}/${name}: ${r.error}`);
        for (const p of r.problems) problems.push(`${w.id}/${name}: ${p}`);
      }
    }
  } finally {
    await Promise.allSettled([...running.values()].map((t) => t.stop()));
    if (process.env.BENCH_KEEP_WORKDIR !== "1") await rm(workDir, { recursive: true, force: true });
    else log(`work dir kept: ${workDir}`);
  }

  const report: BenchReport = {
    schema: 1,
    mode: config.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cores,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
      pinning: { enabled: pinning.enabled, serverCore: pinning.serverCore, loadCore: pinning.loadCore, note: pinning.note },
    },
    tools: { h2load, wrk },
    config: { ...config },
    targets: targetStatus,
    workloads: results,
  };
  const jsonPath = await writeReport(config.outFile ?? defaultResultsPath(config.mode, startedAt), report);
  const svgPath = jsonPath.replace(/\.json$/, "") + ".svg";
  await writeFile(svgPath, renderRatioChart(`Ratios (${config.mode}, ${report.machine.cores} cores, ${startedAt.toISOString().slice(0, 16)})`, chartBars(results)));
  log(`\nresults: ${jsonPath}\nchart:   ${svgPath}`);
  return { report, jsonPath, svgPath, problems };
}

async function main(): Promise<void> {
  const config = readBenchConfig();
  const outcome = await runBench(config);
  if (outcome.problems.length > 0) {
    console.log(`\n${outcome.problems.length} problem(s):\n${outcome.problems.map((p) => `  - ${p.split("\n")[0]}`).join("\n")}`);
    // A smoke run exists to prove the bench works, so any problem fails it; a full run only reports.
    if (config.mode === "smoke") process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
