import type { Logger } from "pino";
import { createClient, type RedisClientType } from "redis";
import { unavailable } from "./domain/errors.js";

/** A connection made with the official `redis` client. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type RedisClient = RedisClientType<{}, {}, {}, 3, {}>;

/** The one Redis connection a process shares between the chat bus, rate limiters and throttles. */
export interface SharedRedis {
  /** The command connection; never put it in subscriber mode (the bus duplicates it for that). */
  client: RedisClient;
  /** Prepended to every channel and key, so several deployments (or test runs) can share one Redis. */
  keyPrefix: string;
  /** True while the command connection is up. */
  healthy(): boolean;
  /** Resolves when Redis answers PING; rejects with UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** A new connection for SUBSCRIBE (which takes a connection over); it queues commands until connected. */
  createSubscriber(name: string): RedisClient;
  close(): Promise<void>;
}

export interface RedisOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
  /** How long start-up waits for a first connection before serving degraded and retrying in the background. */
  connectWaitMs?: number;
}

/** Back off 100 ms, 200 ms, … up to 2 s between reconnect attempts, with jitter so replicas do not stampede. */
export function reconnectDelayMs(retries: number): number {
  return Math.min(100 * 2 ** Math.min(retries, 5), 2000) + Math.floor(Math.random() * 100);
}

/**
 * Creates a client that reconnects forever and logs an outage once (not on
 * every retry) and its end. Shared by the command connection and the bus's
 * subscriber connection.
 */
export function createLoggedClient(options: { url: string; logger: Logger; name: string; offlineQueue?: boolean }): RedisClient {
  const client = createClient({
    url: options.url,
    // Shown by CLIENT LIST, so an operator can tell the connections apart.
    name: options.name.replace(/[^A-Za-z0-9:._-]/g, "_"),
    // By default a command issued while Redis is down fails at once instead of waiting in a queue;
    // callers fall back (rate limits), retry later (chat signals) or report UNAVAILABLE.
    disableOfflineQueue: options.offlineQueue !== true,
    socket: { connectTimeout: 5000, reconnectStrategy: reconnectDelayMs },
  });
  let down = false;
  client.on("error", (error: unknown) => {
    if (down) return;
    down = true;
    options.logger.warn({ err: error, connection: options.name }, "redis connection lost; reconnecting");
  });
  client.on("ready", () => {
    if (!down) return;
    down = false;
    options.logger.info({ connection: options.name }, "redis connection restored");
  });
  return client;
}

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Connects the shared Redis client. Start-up waits a little for it, then goes
 * on without it: the client keeps retrying, and health reports it meanwhile.
 */
export async function connectRedis(options: RedisOptions): Promise<SharedRedis> {
  const client = createLoggedClient({ url: options.url, logger: options.logger, name: `${options.keyPrefix}commands` });
  const connecting = client.connect();
  connecting.catch(() => {});
  await settleWithin(connecting, options.connectWaitMs ?? 5000);
  if (!client.isReady) options.logger.error("redis is unreachable at start; serving without it and retrying");
  return {
    client,
    keyPrefix: options.keyPrefix,
    healthy: () => client.isReady,
    createSubscriber: (name) =>
      createLoggedClient({ url: options.url, logger: options.logger, name: `${options.keyPrefix}${name}`, offlineQueue: true }),
    async ping() {
      if (!client.isReady) throw unavailable("the broker is unavailable; retry shortly");
      try {
        await client.ping();
      } catch {
        throw unavailable("the broker is unavailable; retry shortly");
      }
    },
    async close() {
      if (client.isReady) await client.close().catch(() => client.destroy());
      else if (client.isOpen) client.destroy();
    },
  };
}
