/** Reads a process's resident set size from /proc, so memory figures need no cooperation from the server. */
import { readFile } from "node:fs/promises";

/** VmRSS of the process in bytes; throws where /proc is missing (not Linux) or the process is gone. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
