/** Runs an external load generator to completion and returns its output, so runners only parse. */
import { spawn } from "node:child_process";

export interface ToolOutput {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs the command (with an optional taskset prefix) and captures stdout/stderr; rejects if it cannot start or overruns. */
export function runTool(command: string[], prefix: string[] = [], timeoutMs = 120_000): Promise<ToolOutput> {
  const full = [...prefix, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${full[0]}: ${err.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}
