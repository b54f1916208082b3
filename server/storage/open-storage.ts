import type { Config } from "../config.js";
import type { Storage } from "./ports.js";
import { openSqliteStorage, sqliteFileIn } from "./sqlite/sqlite-storage.js";

/** Picks the engine from the config: PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR. */
export async function openStorage(config: Pick<Config, "databaseUrl" | "dataDir" | "databasePoolSize">): Promise<Storage> {
  if (config.databaseUrl !== undefined) {
    const { openPostgresStorage } = await import("./postgres/postgres-storage.js");
    return openPostgresStorage({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize });
  }
  return openSqliteStorage({ file: sqliteFileIn(config.dataDir) });
}
