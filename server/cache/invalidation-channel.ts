/**
 * Carries "this user changed" between the processes that cache users. A
 * lost message would leave a stale entry, so every (re)connect also asks
 * listeners to drop everything (id undefined).
 */
export interface InvalidationChannel {
  publish(userId: number): Promise<void>;
  /** Calls onInvalidate with an id, or with undefined to drop every entry; returns an unsubscribe function. */
  subscribe(onInvalidate: (userId: number | undefined) => void): () => void;
  close(): Promise<void>;
}

/** One process: its own writes invalidate its own cache directly, so nothing travels. */
export function createLocalInvalidationChannel(): InvalidationChannel {
  return {
    async publish() {},
    subscribe: () => () => {},
    async close() {},
  };
}
