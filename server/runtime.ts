import type { Logger } from "pino";
import type { AppDeps } from "./app.js";
import { createInProcessBus } from "./chat/chat-bus.js";
import type { Config } from "./config.js";
import { systemClock } from "./domain/types.js";
import { createPasswordHasher } from "./security/password-hasher.js";
import { openStorage } from "./storage/open-storage.js";

/** The adapters chosen by the config, and how to release them after the app has closed. */
export interface Runtime {
  deps: AppDeps;
  close(): Promise<void>;
}

/**
 * Picks and opens the adapters the config asks for: SQLite or PostgreSQL,
 * in-process or shared bus, the bcrypt pool. main.ts and cross-process tests
 * use this; in-process tests may pass their own adapters to buildApp instead.
 */
export async function createRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const storage = await openStorage(config);
  const hasher = await createPasswordHasher({ cost: config.bcryptCost, threads: config.bcryptThreads });
  const bus = createInProcessBus();
  return {
    deps: { storage, hasher, clock: systemClock, bus, logger },
    async close() {
      await bus.close();
      await hasher.close();
      await storage.close();
    },
  };
}
