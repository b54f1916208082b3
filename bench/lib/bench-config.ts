import { existsSync, readFileSync } from "node:fs";
/**
 * One place for every knob of a run (full vs smoke, durations, concurrency),
 * read from argv and env so CI and humans drive the same code.
 */
import { parseArgs } from "node:util";
import { DEFAULT_USER_COUNT } from "./seed-data.js";

export type BenchMode = "full" | "smoke";

export interface BenchConfig {
  mode: BenchMode;
  /** Users seeded into every target. */
  users: number;
  /** Whole seconds per measured run of one target (wrk and h2load want whole seconds). */
  durationSec: number;
  /** Seconds of discarded warm-up per target before the rounds. */
  warmupSec: number;
  /** Alternating rounds per workload; the median is reported. */
  rounds: number;
  /** h2load connections and concurrent streams per connection. */
  h2Connections: number;
  h2Streams: number;
  /** wrk HTTP/1.1 connections (no pipelining, so this is the concurrency). */
  wrkConnections: number;
  /** ListUsers page size (the contract caps pages at 1,000). */
  listPageSize: number;
  /** bcrypt cost every target hashes new passwords with (the project's BCRYPT_COST default is 10). */
  bcryptCost: number;
  /** Users streamed in one BatchCreateUsers call. */
  batchUsers: number;
  /** Passwords the single-thread bcryptjs reference hashes to get its rate. */
  oneThreadHashes: number;
  /** Concurrent CreateUser loops of the flood, and the fixed GetUser rate (req/s) whose latency is measured. */
  floodLoops: number;
  floodGetUserRps: number;
  /** Chat fan-out: subscribers, distinct users they log in as, and broadcasts sent one after another. */
  fanoutSubscribers: number;
  fanoutUsers: number;
  fanoutMessages: number;
  /** Idle chat streams held open for the memory figure, and streams per HTTP/2 connection. */
  idleStreams: number;
  streamsPerConnection: number;
  /** Command that starts the project server; empty to skip it. */
  projectCommand: string[];
  /** Node flags for the baselines (none by default: they run as their authors would); e.g. the project's own, for a like-for-like check. */
  baselineNodeFlags: string[];
  skipProject: boolean;
  /** Only these workload ids / target names, when set. */
  workloads: string[];
  targets: string[];
  /** Where the JSON (and the SVG beside it) is written. */
  outFile: string | undefined;
  /** Whether to try pinning servers and load generators to separate cores. */
  pin: boolean;
}

/** The server is measured as `npm start` runs it, runtime flags included. */
const DEFAULT_PROJECT_COMMAND = existsSync("dist/server/main.js") ? startScript() : "node --import tsx server/main.ts";

function startScript(): string {
  const scripts = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts?: Record<string, string> }).scripts;
  return scripts?.["start"] ?? "node dist/server/main.js";
}

function num(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${value}`);
  return n;
}

function list(value: string | undefined): string[] {
  return value ? value.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

/** Parses argv (flags win) and BENCH_* env into a config. */
export function readBenchConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: "boolean" },
      users: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      out: { type: "string" },
      workloads: { type: "string" },
      targets: { type: "string" },
      "no-project": { type: "boolean" },
      "no-pin": { type: "boolean" },
      "project-cmd": { type: "string" },
      "baseline-node-flags": { type: "string" },
    },
    strict: true,
  });
  const smoke = values.smoke === true || env.BENCH_SMOKE === "1" || env.BENCH_SMOKE === "true";
  const command = values["project-cmd"] ?? env.BENCH_PROJECT_CMD ?? DEFAULT_PROJECT_COMMAND;
  return {
    mode: smoke ? "smoke" : "full",
    users: num(values.users ?? env.BENCH_USERS, smoke ? 100 : DEFAULT_USER_COUNT),
    durationSec: Math.max(1, Math.round(num(values.duration ?? env.BENCH_DURATION, smoke ? 1 : 5))),
    warmupSec: smoke ? 0 : Math.max(1, Math.round(num(values.warmup ?? env.BENCH_WARMUP, 2))),
    rounds: Math.round(num(values.rounds ?? env.BENCH_ROUNDS, smoke ? 1 : 3)),
    // Smoke runs only prove the pipeline works, so they use light concurrency that cannot time out on a cold server.
    h2Connections: num(env.BENCH_H2_CONNECTIONS, smoke ? 4 : 16),
    h2Streams: num(env.BENCH_H2_STREAMS, smoke ? 4 : 16),
    wrkConnections: num(env.BENCH_WRK_CONNECTIONS, smoke ? 8 : 64),
    listPageSize: num(env.BENCH_LIST_PAGE_SIZE, 1000),
    bcryptCost: Math.round(num(env.BENCH_BCRYPT_COST, smoke ? 4 : 10)),
    batchUsers: Math.round(num(env.BENCH_BATCH_USERS, smoke ? 20 : 1000)),
    oneThreadHashes: Math.round(num(env.BENCH_ONE_THREAD_HASHES, smoke ? 10 : 60)),
    floodLoops: Math.round(num(env.BENCH_FLOOD_LOOPS, smoke ? 2 : 6)),
    floodGetUserRps: Math.round(num(env.BENCH_FLOOD_GET_USER_RPS, smoke ? 50 : 200)),
    fanoutSubscribers: Math.round(num(env.BENCH_FANOUT_SUBSCRIBERS, smoke ? 20 : 1000)),
    fanoutUsers: Math.round(num(env.BENCH_FANOUT_USERS, smoke ? 5 : 50)),
    fanoutMessages: Math.round(num(env.BENCH_FANOUT_MESSAGES, smoke ? 3 : 20)),
    idleStreams: Math.round(num(env.BENCH_IDLE_STREAMS, smoke ? 100 : 10_000)),
    // The project's HTTP/2 listener allows 100 concurrent streams per connection.
    streamsPerConnection: Math.round(num(env.BENCH_STREAMS_PER_CONNECTION, 100)),
    projectCommand: command.split(/\s+/).filter(Boolean),
    baselineNodeFlags: (values["baseline-node-flags"] ?? env.BENCH_BASELINE_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean),
    skipProject: values["no-project"] === true || env.BENCH_SKIP_PROJECT === "1",
    workloads: list(values.workloads ?? env.BENCH_WORKLOADS),
    targets: list(values.targets ?? env.BENCH_TARGETS),
    outFile: values.out ?? env.BENCH_OUT,
    pin: values["no-pin"] !== true && env.BENCH_NO_PIN !== "1",
  };
}
