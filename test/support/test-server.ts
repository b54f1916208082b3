import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { buildApp, type App, type AppDeps } from "../../server/app.js";
import { createInProcessBus } from "../../server/chat/chat-bus.js";
import { loadConfig, type Config } from "../../server/config.js";
import { systemClock } from "../../server/domain/types.js";
import { createLogger } from "../../server/logger.js";
import { createPasswordHasher } from "../../server/security/password-hasher.js";
import { openSqliteStorage, sqliteFileIn } from "../../server/storage/sqlite/sqlite-storage.js";

/** The admin password every in-process test server starts with. */
export const TEST_ADMIN_PASSWORD = "admin-test-password";

export interface TestServer {
  app: App;
  config: Config;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Every JSON log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  dataDir: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Environment-style settings merged over the test defaults. */
  env?: Record<string, string>;
  /** Replaces adapters, e.g. a Postgres storage or a Redis bus. */
  deps?: Partial<AppDeps>;
  /** Keep this data dir (for restart tests) instead of a new temporary one. */
  dataDir?: string;
  /** Do not delete the data dir on close. */
  keepData?: boolean;
}

/**
 * Builds the real app in this process on a random port with real SQLite in a
 * temporary folder, a cheap bcrypt cost and captured JSON logs.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), "users-test-"));
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    BCRYPT_COST: "4",
    BCRYPT_THREADS: "2",
    LOG_LEVEL: "info",
    RATE_LIMIT_PER_MINUTE: "0",
    SHUTDOWN_TIMEOUT_MS: "2000",
    WEB_ROOT: path.join(dataDir, "no-web-root"),
    ...options.env,
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const logger = options.deps?.logger ?? createLogger(config.logLevel, sink);
  const storage = options.deps?.storage ?? (await openSqliteStorage({ file: sqliteFileIn(dataDir) }));
  const hasher = options.deps?.hasher ?? (await createPasswordHasher({ cost: config.bcryptCost, threads: config.bcryptThreads, nice: config.bcryptNice }));
  const bus = options.deps?.bus ?? createInProcessBus();
  const app = await buildApp(config, { clock: systemClock, ...options.deps, storage, hasher, bus, logger });
  await app.fastify.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const scheme = config.tlsCert === undefined ? "http" : "https";
  return {
    app,
    config,
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    logs,
    dataDir,
    async close() {
      await app.fastify.close();
      if (options.deps?.bus === undefined) await bus.close();
      if (options.deps?.hasher === undefined) await hasher.close();
      if (options.deps?.storage === undefined) await storage.close();
      if (options.dataDir === undefined && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
