/** How long to wait before reconnect attempt `attempt` (0 first): doubling from baseMs up to maxMs, with jitter so many pages do not return at once. */
export function backoffDelayMs(attempt: number, options: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const baseMs = options.baseMs ?? 250;
  const maxMs = options.maxMs ?? 5000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
