import type { Logger } from "pino";
import type { SharedRedis } from "../shared-redis.js";
import type { ChatBus } from "./chat-bus.js";

export interface RedisBusOptions {
  redis: SharedRedis;
  logger: Logger;
  /** How long creation waits for the subscription before going on and letting it complete in the background. */
  subscribeWaitMs?: number;
}

/** The channel every replica of one deployment publishes and listens on. */
export function chatChannel(keyPrefix: string): string {
  return `${keyPrefix}chat`;
}

/**
 * The chat bus on Redis pub/sub. A publish only says "the history grew"; every
 * replica then reads the history itself, so a signal lost while Redis was away
 * costs a delay, not a message. After each (re)connect — once the client has
 * re-subscribed — listeners are called once, so hubs catch up on what they missed.
 */
export async function createRedisBus(options: RedisBusOptions): Promise<ChatBus> {
  const { redis, logger } = options;
  const channel = chatChannel(redis.keyPrefix);
  const listeners = new Set<(latestId?: number) => void>();
  /** A published message carries the announced id; a call without one (a reconnect) means "read everything new". */
  const signal = (message?: string) => {
    const id = message === undefined ? undefined : Number(message);
    const latestId = id !== undefined && Number.isSafeInteger(id) ? id : undefined;
    for (const listener of listeners) {
      try {
        listener(latestId);
      } catch (error) {
        logger.error({ err: error }, "chat bus listener failed");
      }
    }
  };

  const subscriber = redis.createSubscriber("chat-subscriber");
  let created = false;
  // node-redis re-subscribes before it emits "ready", so a catch-up read now misses nothing published later.
  // The first connection during creation needs no signal: the hub reads the history when it starts.
  const onReady = () => {
    if (created) signal();
  };
  subscriber.on("ready", onReady);
  const connecting = subscriber.connect();
  connecting.catch(() => {});
  const subscribed = subscriber.subscribe(channel, signal);
  subscribed.catch((error: unknown) => logger.error({ err: error }, "chat bus could not subscribe"));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([connecting, subscribed]).catch(() => {}),
    // No need to wait when the shared connection already found Redis unreachable.
    new Promise<void>((resolve) => (timer = setTimeout(resolve, options.subscribeWaitMs ?? (redis.healthy() ? 5000 : 0)))),
  ]);
  clearTimeout(timer);
  created = true;
  if (!subscriber.isReady) logger.error("chat bus is not subscribed yet; replicas exchange chat by polling until Redis answers");

  return {
    async publish(latestId) {
      // While Redis is away the outage is already logged once; subscribers catch up when they reconnect.
      if (!redis.client.isReady) return;
      await redis.client.publish(channel, String(latestId));
    },
    subscribe(onSignal) {
      listeners.add(onSignal);
      return () => listeners.delete(onSignal);
    },
    healthy: () => redis.client.isReady && subscriber.isReady,
    async close() {
      listeners.clear();
      subscriber.off("ready", onReady);
      if (subscriber.isReady) await subscriber.close().catch(() => subscriber.destroy());
      else if (subscriber.isOpen) subscriber.destroy();
    },
  };
}
