/**
 * Tells every server instance that the chat history grew. It carries only a
 * signal: the history in storage is the source of truth for order and content,
 * so a lost or repeated signal can delay a message but never lose or repeat it.
 */
export interface ChatBus {
  publish(latestId: number): Promise<void>;
  /**
   * Calls onSignal for every publish, from any instance, with the id it
   * announced, and once after each reconnect without one (read everything
   * new); returns an unsubscribe function.
   */
  subscribe(onSignal: (latestId?: number) => void): () => void;
  /** False while a shared broker is unreachable; the in-process bus is always healthy. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** The single-process bus: a signal reaches this process's hub only. */
export function createInProcessBus(): ChatBus {
  const listeners = new Set<(latestId?: number) => void>();
  return {
    async publish(latestId) {
      for (const listener of listeners) listener(latestId);
    },
    subscribe(onSignal) {
      listeners.add(onSignal);
      return () => listeners.delete(onSignal);
    },
    healthy: () => true,
    async close() {
      listeners.clear();
    },
  };
}
