import { resourceExhausted } from "../domain/errors.js";
import type { ChatMessage, Clock, Principal } from "../domain/types.js";
import type { ChatStore, UserStore } from "../storage/ports.js";
import type { ChatBus } from "./chat-bus.js";
import { chatLimits, checkChatDraft, isVisibleTo, recipientMustExist, type ChatDraft } from "./chat-rules.js";

export interface ChatHubDeps {
  chat: ChatStore;
  users: UserStore;
  bus: ChatBus;
  clock: Clock;
  /** Messages buffered per subscriber before it is cut off as too slow. */
  queueLimit: number;
  /** How often the hub re-reads history without a signal, as a safety net for lost broker messages. */
  pollIntervalMs?: number;
  onError?: (error: unknown) => void;
}

/** Where a subscription starts. */
export type SubscribeFrom =
  /** Only messages that arrive from now on (UserChat sessions). */
  | { kind: "live" }
  /** Every visible message after this id (a resuming client). */
  | { kind: "after"; sinceId: number }
  /** The most recent visible messages, then live (a new page). */
  | { kind: "recent"; limit: number };

export interface SubscribeOptions {
  from: SubscribeFrom;
  signal: AbortSignal;
  /** When set, yields `undefined` after this much silence so the caller can send a keep-alive. */
  keepaliveMs?: number;
  /** Resolves to an id once the subscriber may stop after delivering that id (UserChat after the client half-closes). */
  stopAfter?: Promise<number>;
}

const HISTORY_PAGE = 500;
const DISPATCH_PAGE = 500;

/** One open subscription: a bounded queue fed by the hub, drained by one RPC. */
class Subscriber {
  lastId = 0;
  private ready = false;
  private readonly buffer: ChatMessage[] = [];
  private wake: (() => void) | undefined;
  failure: unknown;

  constructor(
    readonly userId: number,
    private readonly limit: number,
  ) {}

  /** Called by the hub for every new message, in id order; never blocks. */
  offer(message: ChatMessage): void {
    if (this.failure !== undefined || !isVisibleTo(message, this.userId)) return;
    if (this.ready && message.id <= this.lastId) return;
    if (this.buffer.length >= this.limit) {
      this.fail(resourceExhausted("chat subscriber is not reading fast enough; reconnect and resume from the last id"));
      return;
    }
    this.buffer.push(message);
    this.notify();
  }

  /** Marks the replayed history as delivered up to lastId and drops anything buffered at or before it. */
  startAfter(lastId: number): void {
    this.lastId = lastId;
    this.ready = true;
    const fresh = this.buffer.filter((m) => m.id > lastId);
    this.buffer.length = 0;
    this.buffer.push(...fresh);
  }

  fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error;
    this.notify();
  }

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  take(): ChatMessage | undefined {
    const next = this.buffer.shift();
    if (next !== undefined) this.lastId = next.id;
    return next;
  }

  /** Waits for a message, a failure or a wake-up; resolves true when the timeout passed instead. */
  wait(timeoutMs: number | undefined): Promise<boolean> {
    if (this.buffer.length > 0 || this.failure !== undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.wake = undefined;
        resolve(true);
      }, timeoutMs);
      this.wake = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(false);
      };
    });
  }
}

/**
 * Stores chat messages and fans them out to subscribers on this instance.
 * Every instance reads new messages from the history in id order when the
 * bus signals, so all subscribers see one order and each message once.
 */
export function createChatHub(deps: ChatHubDeps) {
  const subscribers = new Set<Subscriber>();
  let cursor = 0;
  let started = false;
  let pumping = false;
  let pumpAgain = false;
  let closed = false;
  /** The highest id any signal announced; reading is only needed while the cursor is behind it. */
  let announced = 0;
  /** Set by signals that carry no id (poll, reconnect): read whatever is new. */
  let forced = false;

  /** A message was stored (here or on another instance), or something may have been missed (no id). */
  function onSignal(latestId?: number): Promise<void> {
    if (latestId === undefined) forced = true;
    else if (latestId > announced) announced = latestId;
    return pump();
  }

  async function pump(): Promise<void> {
    if (!started || closed) return;
    if (pumping) {
      pumpAgain = true;
      return;
    }
    // An instance hears its own sends twice (directly and back from the bus); the second needs no read.
    if (!forced && announced <= cursor) return;
    pumping = true;
    try {
      do {
        pumpAgain = false;
        forced = false;
        for (;;) {
          const batch = await deps.chat.after(cursor, DISPATCH_PAGE);
          for (const message of batch) {
            cursor = message.id;
            for (const sub of subscribers) {
              sub.offer(message);
              // A subscriber cut off as too slow leaves the fan-out now, not when its stalled stream is next read.
              if (sub.failure !== undefined) subscribers.delete(sub);
            }
          }
          if (batch.length < DISPATCH_PAGE) break;
        }
      } while (pumpAgain && !closed && (forced || announced > cursor));
    } catch (error) {
      deps.onError?.(error);
    } finally {
      pumping = false;
    }
  }

  const unsubscribe = deps.bus.subscribe((latestId) => void onSignal(latestId));
  const poll = setInterval(() => void onSignal(), deps.pollIntervalMs ?? 2000);
  poll.unref();

  return {
    /** Reads the current end of the history; call once before serving. */
    async start(): Promise<void> {
      cursor = await deps.chat.latestId();
      started = true;
    },

    /** Validates, stores and announces a message; returns it as stored. */
    async send(principal: Principal, draft: ChatDraft): Promise<ChatMessage> {
      const kind = checkChatDraft(principal, draft);
      if (draft.toUserId !== 0) {
        const recipient = await deps.users.getById(draft.toUserId);
        recipientMustExist(recipient !== undefined && recipient.status !== "deleted", draft.toUserId);
      }
      const stored = await deps.chat.append({
        fromUserId: principal.userId,
        toUserId: draft.toUserId,
        content: draft.content,
        kind,
        createdAt: deps.clock.now(),
      });
      void onSignal(stored.id);
      deps.bus.publish(stored.id).catch((error: unknown) => deps.onError?.(error));
      return stored;
    },

    /**
     * Streams the messages a principal may see, from history and then live.
     * Yields `undefined` as a keep-alive tick when keepaliveMs passes in silence.
     */
    async *subscribe(principal: Principal, options: SubscribeOptions): AsyncGenerator<ChatMessage | undefined> {
      const { signal } = options;
      const sub = new Subscriber(principal.userId, deps.queueLimit);
      const onAbort = () => sub.fail(signal.reason);
      signal.addEventListener("abort", onAbort);
      subscribers.add(sub);
      let stopAfterId: number | undefined;
      void options.stopAfter?.then((id) => {
        stopAfterId = id;
        sub.notify();
      });
      try {
        let lastId = 0;
        const from = options.from;
        if (from.kind === "after") {
          lastId = from.sinceId;
          for (;;) {
            const page = await deps.chat.visibleAfter(principal.userId, lastId, HISTORY_PAGE);
            for (const message of page) {
              if (signal.aborted) throw signal.reason;
              yield message;
              lastId = message.id;
            }
            if (page.length < HISTORY_PAGE) break;
          }
        } else if (from.kind === "recent") {
          const limit = Math.min(Math.max(from.limit, 0), chatLimits.historyMax);
          if (limit > 0) {
            for (const message of await deps.chat.recentVisible(principal.userId, limit)) {
              if (signal.aborted) throw signal.reason;
              yield message;
              lastId = message.id;
            }
          }
        }
        sub.startAfter(lastId);
        // A keep-alive right after the replay tells the client the stream is up and where history ends.
        if (options.keepaliveMs !== undefined) yield undefined;
        for (;;) {
          if (sub.failure !== undefined) throw sub.failure;
          if (stopAfterId !== undefined && sub.lastId >= stopAfterId) return;
          const next = sub.take();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (await sub.wait(options.keepaliveMs)) yield undefined;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        subscribers.delete(sub);
      }
    },

    subscriberCount(): number {
      return subscribers.size;
    },

    /** Re-reads history now; the bus adapters call this after reconnecting. */
    catchUp(): Promise<void> {
      return onSignal();
    },

    async close(): Promise<void> {
      closed = true;
      clearInterval(poll);
      unsubscribe();
    },
  };
}

export type ChatHub = ReturnType<typeof createChatHub>;
