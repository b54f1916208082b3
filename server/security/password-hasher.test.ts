import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPasswordHasher, type PasswordHasher } from "./password-hasher.js";

/** Nice value of every thread of this process, read from /proc (field 19 of stat). */
function threadNiceValues(): number[] {
  return readdirSync("/proc/self/task").flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      return [Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])];
    } catch {
      return []; // the thread ended while we looked
    }
  });
}

describe("the password hasher", () => {
  let hasher: PasswordHasher;
  let niceBefore: number[];
  beforeAll(async () => {
    niceBefore = process.platform === "linux" ? threadNiceValues() : [];
    hasher = await createPasswordHasher({ cost: 4, threads: 2, nice: 7 });
  });
  afterAll(async () => {
    await hasher.close();
  });

  it("writes $2b$ hashes at the configured cost that verify only the right password", async () => {
    const hash = await hasher.hash("correct horse");
    expect(hash).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    expect(await hasher.verify("correct horse", hash)).toBe(true);
    expect(await hasher.verify("correct horsE", hash)).toBe(false);
    await expect(hasher.verifyDummy("anything")).resolves.toBeUndefined();
  });

  it.runIf(process.platform === "linux")("lowers the priority of its worker threads only, not the event loop's", async () => {
    // Two hashes in parallel make sure both workers have started.
    await Promise.all([hasher.hash("a"), hasher.hash("b")]);
    expect(niceBefore.every((n) => n === 0)).toBe(true);
    const after = threadNiceValues();
    expect(after.filter((n) => n === 7)).toHaveLength(2);
    expect(after.filter((n) => n !== 0 && n !== 7)).toEqual([]);
    // The main thread's task id is the process id.
    const main = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    expect(Number(main.slice(main.lastIndexOf(")") + 2).split(" ")[16])).toBe(0);
  });
});
