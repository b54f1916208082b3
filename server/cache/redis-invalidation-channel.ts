import type { Logger } from "pino";
import type { SharedRedis } from "../shared-redis.js";
import type { InvalidationChannel } from "./invalidation-channel.js";

/** The channel replicas of one deployment announce user changes on. */
export function userChangesChannel(keyPrefix: string): string {
  return `${keyPrefix}user-changed`;
}

/**
 * Invalidation over Redis pub/sub, so a user changed through one replica is
 * dropped from every replica's cache. After a reconnect every cache is
 * cleared, since changes announced meanwhile were missed.
 */
export async function createRedisInvalidationChannel(redis: SharedRedis, logger: Logger): Promise<InvalidationChannel> {
  const channel = userChangesChannel(redis.keyPrefix);
  const listeners = new Set<(userId: number | undefined) => void>();
  const notify = (userId: number | undefined) => {
    for (const listener of listeners) listener(userId);
  };
  const subscriber = redis.createSubscriber("user-cache-subscriber");
  const onReady = () => notify(undefined);
  subscriber.on("ready", onReady);
  const connecting = subscriber.connect();
  connecting.catch(() => {});
  const subscribed = subscriber.subscribe(channel, (message) => {
    const id = Number(message);
    notify(Number.isSafeInteger(id) ? id : undefined);
  });
  subscribed.catch((error: unknown) => logger.error({ err: error }, "user cache could not subscribe to invalidations"));
  await Promise.race([Promise.all([connecting, subscribed]).catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
  return {
    async publish(userId) {
      if (!redis.client.isReady) return;
      await redis.client.publish(channel, String(userId));
    },
    subscribe(onInvalidate) {
      listeners.add(onInvalidate);
      return () => listeners.delete(onInvalidate);
    },
    async close() {
      listeners.clear();
      subscriber.off("ready", onReady);
      if (subscriber.isReady) await subscriber.close().catch(() => subscriber.destroy());
      else if (subscriber.isOpen) subscriber.destroy();
    },
  };
}
