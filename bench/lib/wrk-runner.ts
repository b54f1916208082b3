/**
 * Drives wrk for Connect JSON unary calls over HTTP/1.1: a generated Lua
 * script sets the POST body and headers and prints exact percentiles as JSON.
 */
import { rm, writeFile } from "node:fs/promises";
import { runTool } from "./run-tool.js";
import { toMs } from "./stats.js";

export interface WrkRun {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  durationSec: number;
  /** Where the generated Lua script goes (deleted afterwards). */
  scriptFile: string;
  prefix?: string[];
}

export interface WrkMetrics extends Record<string, number> {
  rps: number;
  requests: number;
  failed: number;
  non2xx: number;
  meanMs: number;
  maxMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
}

const MARKER = "BENCH_WRK_JSON";

/** Lua string literal with every byte escaped, so tokens and JSON need no quoting care. */
function luaString(text: string): string {
  return `"${[...Buffer.from(text, "utf8")].map((b) => `\\${b}`).join("")}"`;
}

/** Builds the wrk script: POST with body and headers, and a done() that prints a JSON summary line. */
export function wrkScript(body: string, headers: Record<string, string>): string {
  const headerLines = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`)
    .join("\n");
  return `wrk.method = "POST"
wrk.body = ${luaString(body)}
${headerLines}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARKER} {"requests":%.0f,"durationUs":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"meanUs":%.3f,"maxUs":%.0f,"p50Us":%.0f,"p90Us":%.0f,"p99Us":%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`;
}

interface WrkJson {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  meanUs: number;
  maxUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
}

/** Parses wrk's output: the JSON line from done(), falling back to the --latency text. */
export function parseWrkOutput(text: string): WrkMetrics {
  const line = text.split("\n").find((l) => l.startsWith(MARKER));
  const rpsText = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  if (line) {
    const j = JSON.parse(line.slice(MARKER.length + 1)) as WrkJson;
    return {
      rps: j.durationUs > 0 ? j.requests / (j.durationUs / 1e6) : rpsText,
      requests: j.requests,
      failed: j.connect + j.read + j.write + j.timeout,
      non2xx: j.status,
      meanMs: j.meanUs / 1000,
      maxMs: j.maxUs / 1000,
      p50Ms: j.p50Us / 1000,
      p90Ms: j.p90Us / 1000,
      p99Ms: j.p99Us / 1000,
    };
  }
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(text)?.[1] ?? "");
  const lat = /Latency\s+(\S+)\s+\S+\s+(\S+)/.exec(text);
  return {
    rps: rpsText,
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN),
    failed: 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    meanMs: lat ? toMs(lat[1]!) : Number.NaN,
    maxMs: lat ? toMs(lat[2]!) : Number.NaN,
    p50Ms: pct("50"),
    p90Ms: pct("90"),
    p99Ms: pct("99"),
  };
}

/** Runs wrk (one thread) for the duration and returns the metrics; throws if wrk itself failed. */
export async function runWrk(run: WrkRun): Promise<WrkMetrics> {
  await writeFile(run.scriptFile, wrkScript(run.body, run.headers));
  const args = [
    "wrk", "-t", "1", "-c", String(run.connections), "-d", `${run.durationSec}s`,
    "--latency", "-s", run.scriptFile, run.url,
  ];
  const out = await runTool(args, run.prefix, (run.durationSec + 60) * 1000);
  await rm(run.scriptFile, { force: true });
  const metrics = parseWrkOutput(out.stdout);
  if (out.code !== 0 || !Number.isFinite(metrics.rps)) {
    throw new Error(`wrk failed (exit ${out.code}):\n${out.stdout.slice(-1500)}\n${out.stderr.slice(-500)}`);
  }
  return metrics;
}

/** The installed wrk version line, or "missing". */
export async function wrkVersion(): Promise<string> {
  try {
    const out = await runTool(["wrk", "--version"]);
    return (out.stdout + out.stderr).trim().split("\n")[0] ?? "unknown";
  } catch {
    return "missing";
  }
}
