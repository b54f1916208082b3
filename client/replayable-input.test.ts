import { describe, expect, it } from "vitest";
import { createReplayableInput } from "./replayable-input.js";

async function take<T>(iterable: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  const it = iterable[Symbol.asyncIterator]();
  while (out.length < n) {
    const r = await it.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

async function* numbers(count: number, pulls: { n: number }) {
  for (let i = 1; i <= count; i++) {
    pulls.n++;
    yield i;
  }
}

describe("createReplayableInput", () => {
  it("a retry replays what the failed attempt pulled, then continues with the source", async () => {
    const pulls = { n: 0 };
    const input = createReplayableInput(numbers(5, pulls), 10);
    expect(await take(input.attempt(), 2)).toEqual([1, 2]);
    expect(await take(input.attempt(), 10)).toEqual([1, 2, 3, 4, 5]);
    expect(pulls.n).toBe(5);
    expect(input.pulled).toBe(5);
    expect(input.replayable).toBe(true);
  });

  it("an abandoned attempt ends, so it cannot take items from the next one", async () => {
    const input = createReplayableInput(numbers(5, { n: 0 }), 10);
    const first = input.attempt()[Symbol.asyncIterator]();
    expect((await first.next()).value).toBe(1);
    const second = input.attempt();
    expect(await first.next()).toEqual({ done: true, value: undefined });
    expect(await take(second, 10)).toEqual([1, 2, 3, 4, 5]);
  });

  it("stops being replayable once more was pulled than it may remember", async () => {
    const input = createReplayableInput(numbers(5, { n: 0 }), 2);
    expect(await take(input.attempt(), 3)).toEqual([1, 2, 3]);
    expect(input.replayable).toBe(false);
  });

  it("after seal() items pass through without being remembered", async () => {
    const input = createReplayableInput(numbers(4, { n: 0 }), 2);
    const it = input.attempt()[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(1);
    input.seal();
    const rest = [];
    for (let r = await it.next(); r.done !== true; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual([2, 3, 4]);
    expect(input.replayable).toBe(true);
  });

  it("close() ends the source generator", async () => {
    let finished = false;
    async function* source() {
      try {
        yield 1;
        yield 2;
      } finally {
        finished = true;
      }
    }
    const input = createReplayableInput(source(), 10);
    await take(input.attempt(), 1);
    await input.close();
    expect(finished).toBe(true);
  });
});
