/**
 * Puts servers on core 0 and load generators on core 1 with taskset when the
 * machine allows it, so client and server do not fight over one core.
 */
import { spawnSync } from "node:child_process";
import os from "node:os";

export interface Pinning {
  enabled: boolean;
  serverCore: number | null;
  loadCore: number | null;
  /** Human-readable reason, printed at start-up and stored in the results. */
  note: string;
  /** Prefix a server command with this (empty when pinning is off). */
  serverPrefix: string[];
  /** Prefix a load-generator command with this (empty when pinning is off). */
  loadPrefix: string[];
}

function unpinned(note: string): Pinning {
  return { enabled: false, serverCore: null, loadCore: null, note, serverPrefix: [], loadPrefix: [] };
}

/** Detects whether taskset works here and, if so, pins this process to the load core too. */
export function setupPinning(wanted: boolean): Pinning {
  if (!wanted) return unpinned("disabled (--no-pin / BENCH_NO_PIN=1)");
  const cores = os.availableParallelism();
  if (cores < 2) return unpinned(`not possible: ${cores} core available`);
  const probe = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) return unpinned("not possible: taskset missing or not permitted");
  // The orchestrator also drives the streaming client, so it belongs with the load generators.
  const self = spawnSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  const selfNote = self.status === 0 ? "" : " (could not pin the orchestrator itself)";
  return {
    enabled: true,
    serverCore: 0,
    loadCore: 1,
    note: `taskset: servers on core 0, load generators on core 1${selfNote}`,
    serverPrefix: ["taskset", "-c", "0"],
    loadPrefix: ["taskset", "-c", "1"],
  };
}

/** Re-pins every thread of a running process (taskset -a -p); false when taskset refused. */
export function setProcessCores(pid: number, cpuList: string): boolean {
  const result = spawnSync("taskset", ["-a", "-p", "-c", cpuList, String(pid)], { stdio: "ignore" });
  return !result.error && result.status === 0;
}

/**
 * Runs fn with the server process allowed on every core, then puts it back on
 * its core. The bcrypt-bound workloads need this: the server's hashing pool
 * exists to use the cores a pinned server would not have. A no-op unpinned.
 */
export async function withAllCores<T>(pinning: Pinning, cores: number, pid: number, fn: () => Promise<T>): Promise<T> {
  if (!pinning.enabled || pinning.serverCore === null) return fn();
  if (!setProcessCores(pid, `0-${cores - 1}`)) throw new Error(`could not widen pid ${pid} to all ${cores} cores with taskset`);
  try {
    return await fn();
  } finally {
    setProcessCores(pid, String(pinning.serverCore));
  }
}
