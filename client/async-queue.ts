/** A push-driven async iterable: what a request stream reads from while the program decides what to send. */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  /** No more values; the reader finishes after the queued ones. */
  end(): void;
  readonly ended: boolean;
}

/** An unbounded queue with one reader; pushing after end() throws, since the stream has already closed. */
export function createAsyncQueue<T>(): AsyncQueue<T> {
  const values: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(value) {
      if (ended) throw new Error("the stream has ended");
      values.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    get ended() {
      return ended;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (values.length > 0) yield values.shift() as T;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}
