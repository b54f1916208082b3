import type { ChatMessage } from "../../gen/user/user_pb.js";
import { backoffDelayMs } from "./backoff.js";

export type FeedState = "connecting" | "connected" | "reconnecting" | "stopped";

export interface FeedStatus {
  state: FeedState;
  /** Failed attempts since the stream last worked. */
  attempt: number;
  /** When reconnecting: how long until the next try. */
  retryInMs?: number;
  /** Why the last stream ended, if it failed. */
  error?: unknown;
}

export interface ChatFeedDeps {
  /** Opens SubscribeChat after `sinceId` (0n: recent history first). */
  subscribe(sinceId: bigint, signal: AbortSignal): AsyncIterable<ChatMessage>;
  /**
   * A cheap call that succeeds when the server answers this session (WhoAmI):
   * the server sends no stream headers before the first message, so this is
   * how the page learns that a quiet stream is up.
   */
  probe(signal: AbortSignal): Promise<unknown>;
  onMessage(message: ChatMessage): void;
  onStatus(status: FeedStatus): void;
  /** Errors after which retrying cannot help, e.g. an ended session. */
  isFatal(error: unknown): boolean;
  onFatal(error: unknown): void;
  /** Silence after which the stream is presumed dead (several server keep-alive intervals). */
  idleTimeoutMs?: number;
  /** A stream that lived this long resets the backoff. */
  stableAfterMs?: number;
  delayMs?: (attempt: number) => number;
}

export interface ChatFeed {
  /** The id of the newest message received; a reconnect resumes after it. */
  lastId(): bigint;
  /** Skips the current backoff wait (e.g. the browser came back online). */
  reconnectNow(): void;
  stop(): void;
}

class Stale extends Error {}

/**
 * Keeps one SubscribeChat stream open: skips keep-alives, resumes after the
 * last id it delivered when the stream drops, and waits with backoff between
 * tries, so no message is lost and none is delivered twice.
 */
export function startChatFeed(deps: ChatFeedDeps): ChatFeed {
  const idleTimeoutMs = deps.idleTimeoutMs ?? 45_000;
  const stableAfterMs = deps.stableAfterMs ?? 5_000;
  const delayMs = deps.delayMs ?? ((attempt: number) => backoffDelayMs(attempt));
  const stopper = new AbortController();
  let lastId = 0n;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        stopper.signal.removeEventListener("abort", done);
        resolve();
      }
      wake = done;
      stopper.signal.addEventListener("abort", done);
    });

  async function runOnce(): Promise<{ alive: boolean; lived: number; error?: unknown }> {
    const call = new AbortController();
    const stop = () => call.abort();
    stopper.signal.addEventListener("abort", stop);
    const startedAt = Date.now();
    let alive = false;
    const markAlive = () => {
      if (alive || call.signal.aborted) return;
      alive = true;
      deps.onStatus({ state: "connected", attempt: 0 });
    };
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => call.abort(new Stale("no message or keep-alive for too long")), idleTimeoutMs);
    };
    let probeError: unknown;
    deps.probe(call.signal).then(markAlive, (error: unknown) => {
      if (deps.isFatal(error)) {
        probeError = error;
        call.abort(error);
      }
    });
    try {
      armIdle();
      for await (const message of deps.subscribe(lastId, call.signal)) {
        armIdle();
        markAlive();
        if (message.id === 0n || message.id <= lastId) continue;
        lastId = message.id;
        deps.onMessage(message);
      }
      return { alive, lived: Date.now() - startedAt };
    } catch (error) {
      return { alive, lived: Date.now() - startedAt, error: probeError ?? (call.signal.reason instanceof Stale ? call.signal.reason : error) };
    } finally {
      clearTimeout(idle);
      stopper.signal.removeEventListener("abort", stop);
      call.abort();
    }
  }

  void (async () => {
    let attempt = 0;
    deps.onStatus({ state: "connecting", attempt });
    while (!stopper.signal.aborted) {
      const result = await runOnce();
      if (stopper.signal.aborted) break;
      if (result.error !== undefined && deps.isFatal(result.error)) {
        stopper.abort();
        deps.onFatal(result.error);
        break;
      }
      if (result.alive && result.lived >= stableAfterMs) attempt = 0;
      const wait = delayMs(attempt);
      attempt++;
      deps.onStatus({ state: "reconnecting", attempt, retryInMs: wait, error: result.error });
      await sleep(wait);
      if (!stopper.signal.aborted) deps.onStatus({ state: "reconnecting", attempt });
    }
    deps.onStatus({ state: "stopped", attempt });
  })();

  return {
    lastId: () => lastId,
    reconnectNow: () => wake?.(),
    stop: () => stopper.abort(),
  };
}
