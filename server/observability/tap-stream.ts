/** How a stream that an interceptor watched came to its end. */
export type StreamEnd =
  | { kind: "completed" }
  | { kind: "failed"; error: unknown }
  /** The consumer stopped early, e.g. the client went away. */
  | { kind: "abandoned" };

/**
 * Passes a stream through unchanged while telling the caller about each item
 * and about the end, so interceptors can count messages and time streams
 * without buffering them. Early return by the consumer is passed on to the source.
 */
export async function* tapStream<T>(source: AsyncIterable<T>, onItem: (item: T) => void, onEnd?: (end: StreamEnd) => void): AsyncGenerator<T> {
  let end: StreamEnd = { kind: "abandoned" };
  try {
    for await (const item of source) {
      onItem(item);
      yield item;
    }
    end = { kind: "completed" };
  } catch (error) {
    end = { kind: "failed", error };
    throw error;
  } finally {
    onEnd?.(end);
  }
}
