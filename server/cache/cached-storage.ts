import { LRUCache } from "lru-cache";
import type { Storage, StoredUser, UserStore } from "../storage/ports.js";
import type { InvalidationChannel } from "./invalidation-channel.js";

export interface UserCacheOptions {
  invalidations: InvalidationChannel;
  /** Users kept; the oldest go first. */
  max?: number;
  /** An upper bound on staleness should an invalidation ever be lost. */
  ttlMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Puts an LRU cache of users by id in front of storage: every call's auth
 * check and GetUser read a user, and a database round trip for each was the
 * largest cost in profiles. Writes through this store drop the entry here and
 * announce the change to other replicas.
 */
export function withUserCache(storage: Storage, options: UserCacheOptions): Storage & { readonly cacheSize: () => number } {
  const cache = new LRUCache<number, StoredUser>({ max: options.max ?? 10_000, ttl: options.ttlMs ?? 60_000 });
  // Bumped on every invalidation, so a read that raced a write never stores what it read.
  let generation = 0;
  const invalidate = (userId: number | undefined) => {
    generation++;
    if (userId === undefined) cache.clear();
    else cache.delete(userId);
  };
  const unsubscribe = options.invalidations.subscribe(invalidate);
  const announce = (userId: number) => {
    invalidate(userId);
    options.invalidations.publish(userId).catch((error: unknown) => options.onError?.(error));
  };
  const inner = storage.users;
  const users: UserStore = {
    async getById(id) {
      const hit = cache.get(id);
      if (hit !== undefined) return hit;
      const before = generation;
      const row = await inner.getById(id);
      if (row !== undefined && generation === before) cache.set(id, row);
      return row;
    },
    // A new id cannot be cached anywhere yet (misses are not cached), so creation announces nothing.
    create: (row) => inner.create(row),
    async update(id, patch) {
      try {
        return await inner.update(id, patch);
      } finally {
        announce(id);
      }
    },
    async remove(id) {
      try {
        return await inner.remove(id);
      } finally {
        announce(id);
      }
    },
    findByLogin: (login) => inner.findByLogin(login),
    list: (query, signal) => inner.list(query, signal),
    count: () => inner.count(),
  };
  return {
    engine: storage.engine,
    users,
    chat: storage.chat,
    ping: () => storage.ping(),
    async close() {
      unsubscribe();
      cache.clear();
      await storage.close();
    },
    cacheSize: () => cache.size,
  };
}
