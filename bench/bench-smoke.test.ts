/**
 * CI check that the benchmark harness still completes in smoke mode and
 * reports sane figures; it never asserts speeds.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPORT_KEYS, type BenchReport } from "./lib/results-json.js";

const repoRoot = new URL("..", import.meta.url).pathname;
const projectPresent = existsSync(join(repoRoot, "server/main.ts"));

function runSmoke(outFile: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", "--smoke", "--out", outFile], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_SMOKE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("bench smoke", () => {
  let dir = "";
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs every ready workload against the baselines (and the project server when present) with sane numbers", async () => {
    dir = await mkdtemp(join(os.tmpdir(), "bench-smoke-test-"));
    const outFile = join(dir, "smoke.json");
    const { code, output } = await runSmoke(outFile);
    expect(code, output).toBe(0);

    const report = JSON.parse(await readFile(outFile, "utf8")) as BenchReport;
    for (const key of REPORT_KEYS) expect(report, `report key ${key}`).toHaveProperty(key);
    expect(report.mode).toBe("smoke");
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(existsSync(outFile.replace(/\.json$/, ".svg"))).toBe(true);

    const expectedTargets = ["grpc-js", "raw-http2", "fastify-route", ...(projectPresent ? ["project"] : [])];
    for (const name of expectedTargets) expect(report.targets[name]?.status, `${name}: ${report.targets[name]?.reason ?? ""}`).toBe("ran");
    if (!projectPresent) expect(report.targets.project?.status).toBe("skipped");

    const ran = report.workloads.filter((w) => w.status === "ran");
    expect(ran.map((w) => w.id).sort()).toEqual([
      "batch-create-1000",
      "chat-fanout-1000",
      "connect-get-user",
      "get-user-p99-under-create-flood",
      "grpc-get-user",
      "idle-chat-streams-memory",
      "list-users-stream",
    ]);
    for (const w of ran) {
      for (const [target, result] of Object.entries(w.results)) {
        expect(result.error, `${w.id}/${target}`).toBeUndefined();
        expect(result.problems, `${w.id}/${target}`).toEqual([]);
        const primary = result.median[w.primary];
        // A memory delta over a hundred streams may be swallowed by a garbage collection; every other primary figure is a rate or a latency.
        const sane = w.id === "idle-chat-streams-memory" ? Number.isFinite(primary) : Number.isFinite(primary) && primary! > 0;
        expect(sane, `${w.id}/${target} ${w.primary}=${primary}`).toBe(true);
      }
      // Memory ratios divide two small deltas in smoke mode (a garbage collection can make either 0); every other ratio divides rates or latencies.
      for (const r of w.ratios) {
        const ok = w.id === "idle-chat-streams-memory" ? !Number.isNaN(r.ratio) : Number.isFinite(r.ratio) && r.ratio > 0;
        expect(ok, `${w.id} ratio ${JSON.stringify(r)}`).toBe(true);
      }
      if (projectPresent) for (const g of w.metricGoals) expect(Number.isFinite(g.value), `${w.id} goal ${g.key}=${g.value}`).toBe(true);
    }

    const byId = new Map(ran.map((w) => [w.id, w]));
    // Every subscriber got every broadcast, and every idle stream was proven live, on each chat target.
    for (const [target, result] of Object.entries(byId.get("chat-fanout-1000")!.results)) {
      expect(result.median.missing, target).toBe(0);
      expect(result.median.deliveries, target).toBe(result.median.subscribers! * result.median.messages!);
    }
    for (const [target, result] of Object.entries(byId.get("idle-chat-streams-memory")!.results)) {
      expect(result.median.streams, target).toBe(report.config.idleStreams);
      expect(result.median.rssAfterMiB, target).toBeGreaterThan(0);
    }
    for (const [target, result] of Object.entries(byId.get("batch-create-1000")!.results)) {
      expect(result.median.users, target).toBe(report.config.batchUsers);
      expect(result.median.oneThreadHashesPerSec, target).toBeGreaterThan(0);
    }
  }, 150_000);
});
