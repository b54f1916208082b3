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
    expect(ran.map((w) => w.id)).toEqual(expect.arrayContaining(["grpc-get-user", "connect-get-user", "list-users-stream"]));
    for (const w of ran) {
      for (const [target, result] of Object.entries(w.results)) {
        expect(result.error, `${w.id}/${target}`).toBeUndefined();
        expect(result.problems, `${w.id}/${target}`).toEqual([]);
        const primary = result.median[w.primary];
        expect(Number.isFinite(primary) && primary! > 0, `${w.id}/${target} ${w.primary}=${primary}`).toBe(true);
      }
      for (const r of w.ratios) expect(Number.isFinite(r.ratio) && r.ratio > 0).toBe(true);
    }
  }, 90_000);
});
