/**
 * Drives h2load for gRPC unary calls over h2c and turns its summary plus its
 * per-request log into req/s and latency percentiles.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { frameMessage } from "./grpc-frame.js";
import { runTool } from "./run-tool.js";
import { percentile, toMs } from "./stats.js";

export interface H2loadRun {
  url: string;
  /** File holding the framed request body. */
  bodyFile: string;
  headers: Record<string, string>;
  connections: number;
  streams: number;
  durationSec: number;
  /** Requests per second per connection (h2load --rps), for latency at a fixed load instead of at saturation. */
  rpsPerConnection?: number;
  /** Per-request log (deleted after parsing). */
  logFile: string;
  prefix?: string[];
}

export interface H2loadSummary {
  rps: number;
  requests: number;
  failed: number;
  non2xx: number;
  /** Response DATA bytes (gRPC frames), used to spot gRPC-level errors h2load counts as success. */
  dataBytes: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export interface H2loadMetrics extends H2loadSummary, Record<string, number> {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

/** Writes the gRPC-framed request body h2load will POST. */
export async function writeGrpcBody(path: string, message: Uint8Array): Promise<void> {
  await writeFile(path, frameMessage(message));
}

/** The headers a gRPC unary call needs (plus the bearer token). */
export function grpcHeaders(token: string): Record<string, string> {
  return { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${token}` };
}

/** Parses h2load's text summary (req/s, counts, the "time for request" row). */
export function parseH2loadSummary(text: string): H2loadSummary {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text)?.[1] ?? Number.NaN);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  const traffic = /traffic: .*?, .*? headers .*?, \S+ \((\d+)\) data/.exec(text);
  const time = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(text);
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : Number.NaN;
  return {
    rps,
    requests: req ? Number(req[3]) : Number.NaN,
    failed: req ? Number(req[4]) + Number(req[5]) + Number(req[6]) : Number.NaN,
    non2xx,
    dataBytes: traffic ? Number(traffic[1]) : Number.NaN,
    minMs: time ? toMs(time[1]!) : Number.NaN,
    maxMs: time ? toMs(time[2]!) : Number.NaN,
    meanMs: time ? toMs(time[3]!) : Number.NaN,
  };
}

/** Reads h2load's --log-file (start µs, status, duration µs) into p50/p90/p99 in ms, counting only 2xx rows. */
export function percentilesFromLog(text: string): { p50Ms: number; p90Ms: number; p99Ms: number } {
  const durations: number[] = [];
  for (const line of text.split("\n")) {
    const cols = line.split("\t");
    if (cols.length < 3 || !cols[1]!.startsWith("2")) continue;
    durations.push(Number(cols[2]) / 1000);
  }
  const sorted = Float64Array.from(durations).sort();
  return { p50Ms: percentile(sorted, 50), p90Ms: percentile(sorted, 90), p99Ms: percentile(sorted, 99) };
}

/** Runs h2load for the duration and returns the metrics; throws if h2load itself failed. */
export async function runH2load(run: H2loadRun): Promise<H2loadMetrics> {
  const args = [
    "h2load",
    "-D", String(run.durationSec),
    "-c", String(run.connections),
    "-m", String(run.streams),
    "-t", "1",
    "-d", run.bodyFile,
    ...(run.rpsPerConnection !== undefined ? ["--rps", String(run.rpsPerConnection)] : []),
    "--log-file", run.logFile,
    ...Object.entries(run.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    run.url,
  ];
  const out = await runTool(args, run.prefix, (run.durationSec + 60) * 1000);
  const summary = parseH2loadSummary(out.stdout);
  if (out.code !== 0 || !Number.isFinite(summary.rps)) {
    throw new Error(`h2load failed (exit ${out.code}):\n${out.stdout.slice(-1500)}\n${out.stderr.slice(-500)}`);
  }
  const log = await readFile(run.logFile, "utf8").catch(() => "");
  await rm(run.logFile, { force: true });
  return { ...summary, ...percentilesFromLog(log) };
}

/** The installed h2load version line, or "missing". */
export async function h2loadVersion(): Promise<string> {
  try {
    return (await runTool(["h2load", "--version"])).stdout.trim().split("\n")[0] ?? "unknown";
  } catch {
    return "missing";
  }
}
