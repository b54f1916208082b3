/** Measures the single-thread bcryptjs rate in a child process on the server core, as the yardstick for hashing pools. */
import { fileURLToPath } from "node:url";
import { runTool } from "./run-tool.js";
import type { RunContext } from "./types.js";

const script = fileURLToPath(new URL("../baselines/bcrypt-one-thread.js", import.meta.url));

export interface OneThreadRate {
  hashesPerSec: number;
  ms: number;
}

/** Hashes ctx.config.oneThreadHashes passwords at the run's cost in one thread and returns hashes/s. */
export async function oneThreadBcryptRate(ctx: RunContext): Promise<OneThreadRate> {
  const out = await runTool(
    [process.execPath, script, String(ctx.config.oneThreadHashes), String(ctx.config.bcryptCost)],
    ctx.pinning.serverPrefix,
    300_000,
  );
  const line = out.stdout.trim().split("\n").at(-1) ?? "";
  let parsed: { hashesPerSec?: number; ms?: number };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new Error(`bcrypt reference printed no result (exit ${out.code}): ${out.stderr.slice(-300)}`);
  }
  if (!(parsed.hashesPerSec! > 0)) throw new Error(`bcrypt reference rate is ${parsed.hashesPerSec}`);
  return { hashesPerSec: parsed.hashesPerSec!, ms: parsed.ms ?? Number.NaN };
}
