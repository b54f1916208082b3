/** The shapes shared by targets, workloads and reports, kept apart so modules depend on types, not on each other. */
import type { BenchConfig } from "./bench-config.js";
import type { Pinning } from "./cpu-pinning.js";

export type TargetName = "project" | "grpc-js" | "raw-http2" | "fastify-route";

/** A running server the workloads can hit. */
export interface Target {
  name: TargetName;
  /** http://127.0.0.1:port — gRPC over h2c and/or HTTP/1.1 JSON, depending on the target. */
  baseUrl: string;
  /** A valid bearer token (refreshed by freshToken). */
  token: string;
  /** Returns a token good for at least the next workload (re-login for the project). */
  freshToken(): Promise<string>;
  /** A bearer token for the seeded user at this 1-based position (chat workloads act as many users). */
  tokenFor(index: number): Promise<string>;
  /** The user every GetUser workload asks for, and the username it must come back with. */
  getUserId: bigint;
  expectedUsername: string;
  pid: number;
  stop(): Promise<void>;
}

/** Everything a workload needs besides its target. */
export interface RunContext {
  config: BenchConfig;
  pinning: Pinning;
  /** Cores of the machine, read before pinning (a pinned process sees one). */
  cores: number;
  /** Scratch directory for request bodies, scripts and logs. */
  workDir: string;
  log(line: string): void;
}

export type Metrics = Record<string, number>;

export interface MetricColumn {
  key: string;
  label: string;
  /** Decimal places when printed. */
  digits: number;
}

/** A ratio the issue asks us to print (never assert): subject ÷ against on the primary metric. */
export interface Goal {
  subject: TargetName;
  against: TargetName;
  min: number;
}

/**
 * A bound the issue sets on one target's own figure (printed, never asserted):
 * an absolute one like "p99 ≤ 50 ms" or a within-target ratio like "flood p99 ÷ idle p99 ≤ 2".
 */
export interface MetricGoal {
  target: TargetName;
  key: string;
  /** How the goal reads in the table, e.g. "users/s ÷ 1-thread bcryptjs hashes/s". */
  label: string;
  min?: number;
  max?: number;
  /** True when the figure is itself a ratio, so the chart can draw it beside the cross-target ratios. */
  isRatio?: boolean;
}

export interface MetricGoalResult extends MetricGoal {
  value?: number;
  met?: boolean;
}

/** Measures one target for some seconds; created once per target by Workload.prepare. */
export type MeasureFn = (seconds: number) => Promise<Metrics>;

export interface Workload {
  id: string;
  title: string;
  /** "planned" entries are listed and skipped until someone implements them. */
  status: "ready" | "planned";
  description: string;
  targets: readonly TargetName[];
  primary: MetricColumn & { higherIsBetter: boolean };
  columns: readonly MetricColumn[];
  goals: readonly Goal[];
  metricGoals?: readonly MetricGoal[];
  /** Overrides the run's round count (fixed-work workloads that take minutes run once). */
  rounds?: number;
  /** False skips the warm-up run (e.g. memory figures that a previous run would already have grown). */
  warmup?: boolean;
  /** Probes the target (throw to leave it out) and returns its measuring function. */
  prepare(ctx: RunContext, target: Target): Promise<MeasureFn>;
  /** Returns what looks wrong with one round's metrics (errors, zero throughput), or nothing. */
  check(metrics: Metrics): string[];
}

export interface TargetResult {
  median: Metrics;
  rounds: Metrics[];
  problems: string[];
  error?: string;
}

export interface RatioResult {
  subject: TargetName;
  against: TargetName;
  ratio: number;
  goal?: number;
  met?: boolean;
}

export interface WorkloadResult {
  id: string;
  title: string;
  status: "ran" | "planned" | "skipped";
  reason?: string;
  primary: string;
  higherIsBetter: boolean;
  columns: MetricColumn[];
  goals: Goal[];
  metricGoals: MetricGoalResult[];
  results: Partial<Record<TargetName, TargetResult>>;
  ratios: RatioResult[];
}
