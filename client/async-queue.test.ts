import { describe, expect, it } from "vitest";
import { createAsyncQueue } from "./async-queue.js";

describe("createAsyncQueue", () => {
  it("yields pushed values in order, waits for more, and finishes after end()", async () => {
    const queue = createAsyncQueue<number>();
    queue.push(1);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const v of queue) seen.push(v);
    })();
    await new Promise((r) => setTimeout(r, 5));
    queue.push(2);
    queue.push(3);
    queue.end();
    await reading;
    expect(seen).toEqual([1, 2, 3]);
    expect(queue.ended).toBe(true);
    expect(() => queue.push(4)).toThrow(/ended/);
  });
});
