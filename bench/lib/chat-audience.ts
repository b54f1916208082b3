/**
 * Opens N chat subscribers on a target and proves every one is live — a
 * broadcast reached it — before anything is measured, since a stream the
 * server has not registered yet would silently miss messages.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { decodeChat, type ChatDriver } from "./chat-driver.js";
import { StreamFleet } from "./stream-fleet.js";

export interface AudienceOptions {
  baseUrl: string;
  driver: ChatDriver;
  count: number;
  perConnection: number;
  /** A run-unique word, so messages of earlier runs cannot be mistaken for this one's. */
  tag: string;
  /** Called for every other chat message (not keep-alives, not sync messages) with its receive time. */
  onContent?: (i: number, content: string, receivedAt: number) => void;
}

export interface Audience {
  fleet: StreamFleet;
  /** From the first connection to every subscriber having received a broadcast. */
  readyMs: number;
  close(): void;
}

/** Opens the subscribers, then broadcasts "sync" messages until each has received one (a late registration misses the first). */
export async function openAudience(opts: AudienceOptions): Promise<Audience> {
  const started = performance.now();
  const synced = new Uint8Array(opts.count);
  let syncedCount = 0;
  const syncPrefix = `sync ${opts.tag} `;
  const fleet = await StreamFleet.open(opts.baseUrl, opts.count, opts.perConnection, {
    ...opts.driver.subscription(),
    onMessage(i, message) {
      const receivedAt = performance.now();
      const { id, content } = decodeChat(message);
      if (id === 0n && content === "") return;
      if (content.startsWith(syncPrefix)) {
        if (synced[i] === 0) {
          synced[i] = 1;
          syncedCount++;
        }
        return;
      }
      opts.onContent?.(i, content, receivedAt);
    },
  });
  try {
    const deadline = performance.now() + 120_000 + opts.count * 20;
    // A new sync message is sent only once the last one has stopped reaching anyone new, so a slow server is not buried in them.
    const quietMs = 1000;
    for (let attempt = 0; syncedCount < opts.count; attempt++) {
      if (fleet.ended > 0) throw new Error(`${fleet.ended} of ${opts.count} streams ended early; first: ${fleet.firstFailure}`);
      if (performance.now() > deadline) throw new Error(`only ${syncedCount} of ${opts.count} subscribers received a broadcast within the deadline`);
      await opts.driver.send(`${syncPrefix}${attempt}`);
      let seen = syncedCount;
      let lastProgress = performance.now();
      while (syncedCount < opts.count && fleet.ended === 0 && performance.now() - lastProgress < quietMs && performance.now() < deadline) {
        await sleep(10);
        if (syncedCount !== seen) {
          seen = syncedCount;
          lastProgress = performance.now();
        }
      }
    }
  } catch (err) {
    fleet.close();
    throw err;
  }
  return { fleet, readyMs: performance.now() - started, close: () => fleet.close() };
}
