/** residentBytes reads the same figure the kernel reports to the process itself, and fails loudly for a missing process. */
import { describe, expect, it } from "vitest";
import { residentBytes } from "./proc-memory.js";

describe.runIf(process.platform === "linux")("residentBytes", () => {
  it("matches this process's own RSS within a few MiB", async () => {
    const own = process.memoryUsage.rss();
    const read = await residentBytes(process.pid);
    expect(Math.abs(read - own)).toBeLessThan(16 * 1024 * 1024);
    expect(read % 1024).toBe(0);
  });

  it("rejects for a process that does not exist", async () => {
    await expect(residentBytes(2 ** 22 + 7)).rejects.toThrow(/ENOENT/);
  });
});
