import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Makes sure an external tool the test drives is present, installing its
 * Debian package when it is missing and apt-get is usable (CI runs as root).
 */
export async function requireTool(command: string, probeArgs: string[], debianPackage: string): Promise<void> {
  try {
    await run(command, probeArgs);
    return;
  } catch {
    // Not there yet: try to install it below.
  }
  try {
    await run("apt-get", ["install", "-y", "--no-install-recommends", debianPackage], { timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } catch (error) {
    throw new Error(`${command} is missing and installing the Debian package ${debianPackage} failed: ${String(error)}`);
  }
  await run(command, probeArgs);
}
