import { config as loadDotenv } from "dotenv";
import { buildApp } from "./app.js";
import { ConfigError, helpText, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { createRuntime } from "./runtime.js";

/** Reads the config, builds the app and listens; nothing else lives here. */
async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(helpText());
    return;
  }
  loadDotenv({ quiet: true });
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nRun with --help to see every setting.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const runtime = await createRuntime(config, logger);
  const app = await buildApp(config, runtime.deps);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Health goes NOT_SERVING, the listener stops accepting, HTTP/2 sessions get
    // GOAWAY (fastify's preClose hooks in app.ts); unary calls finish, and
    // streams still open after SHUTDOWN_TIMEOUT_MS end with UNAVAILABLE.
    logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, "shutting down");
    // Connections a client keeps open after its last stream ended must not hold the exit.
    const forceClose = setTimeout(() => {
      logger.warn("closing connections still open after the shutdown timeout");
      app.server.destroyAll();
    }, config.shutdownTimeoutMs + 1000);
    forceClose.unref();
    const hardStop = setTimeout(() => {
      logger.error("shutdown took too long; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000);
    hardStop.unref();
    try {
      await app.fastify.close();
      await runtime.close();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));

  const address = await app.fastify.listen({ port: config.port, host: config.host });
  logger.info({ address, storage: runtime.deps.storage.engine, tls: config.tlsCert !== undefined }, "listening");
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
