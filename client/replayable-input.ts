/**
 * A request stream that a retry can send again: every item pulled from the
 * source is remembered (up to a limit), and each attempt first replays what
 * earlier attempts pulled, then continues with the source. Only one attempt
 * reads at a time, so an abandoned attempt cannot steal items from the next.
 */
export interface ReplayableInput<T> {
  /** A fresh iterable for the next attempt; earlier attempts' iterables end. */
  attempt(): AsyncIterable<T>;
  /** False once more items were pulled than can be remembered. */
  readonly replayable: boolean;
  /** Items pulled from the source so far. */
  readonly pulled: number;
  /** The call is established and will not be retried: stop remembering items. */
  seal(): void;
  /** Lets the source clean up (ends its generator) once no attempt will read it again. */
  close(): Promise<void>;
}

export function createReplayableInput<T>(source: AsyncIterable<T>, maxRemembered: number): ReplayableInput<T> {
  const remembered: T[] = [];
  let iterator: AsyncIterator<T> | undefined;
  let pulled = 0;
  let overflow = false;
  let sourceDone = false;
  let generation = 0;
  let sealed = false;
  let lock: Promise<unknown> = Promise.resolve();

  const pullNext = async (): Promise<IteratorResult<T>> => {
    if (sourceDone) return { done: true, value: undefined };
    iterator ??= source[Symbol.asyncIterator]();
    const result = await iterator.next();
    if (result.done === true) {
      sourceDone = true;
      return result;
    }
    pulled++;
    if (sealed) return result;
    if (remembered.length < maxRemembered) remembered.push(result.value);
    else overflow = true;
    return result;
  };

  return {
    attempt() {
      const mine = ++generation;
      let index = 0;
      return {
        [Symbol.asyncIterator](): AsyncIterator<T> {
          return {
            next(): Promise<IteratorResult<T>> {
              const run = lock.then(async (): Promise<IteratorResult<T>> => {
                if (mine !== generation) return { done: true, value: undefined };
                if (index < remembered.length) return { done: false, value: remembered[index++] as T };
                if (sealed) {
                  remembered.length = 0;
                  return pullNext();
                }
                if (index < pulled) throw new Error("request stream can no longer be replayed");
                const result = await pullNext();
                if (result.done !== true) index++;
                return result;
              });
              lock = run.catch(() => undefined);
              return run;
            },
            // An attempt that ends early (failed, aborted or answered) leaves the source open for the next one; close() ends it.
            async return(): Promise<IteratorResult<T>> {
              return { done: true, value: undefined };
            },
            async throw(): Promise<IteratorResult<T>> {
              return { done: true, value: undefined };
            },
          };
        },
      };
    },
    get replayable() {
      return !overflow;
    },
    get pulled() {
      return pulled;
    },
    seal() {
      sealed = true;
    },
    async close() {
      generation++;
      if (iterator !== undefined && !sourceDone) {
        sourceDone = true;
        await iterator.return?.();
      }
    },
  };
}
