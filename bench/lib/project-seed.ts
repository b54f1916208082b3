/**
 * Seeds the project's SQLite database directly, before its server starts:
 * the project's own storage module creates the schema, then one transaction
 * inserts the admin and the shared users with one precomputed bcrypt hash,
 * which takes a second instead of minutes of hashing over the RPC.
 */
import BetterSqlite3 from "better-sqlite3";
import bcrypt from "bcryptjs";
import { openSqliteStorage, sqliteFileIn } from "../../server/storage/sqlite/sqlite-storage.js";
import { seedUsers } from "./seed-data.js";

export interface ProjectSeed {
  dataDir: string;
  users: number;
  /** The password every seeded user gets (one hash shared by all rows). */
  seedPassword: string;
  adminPassword: string;
  bcryptCost: number;
}

/** The admin row the server would create on first start (server/bootstrap.ts), inserted first so it gets id 1. */
const ADMIN = { username: "admin", email: "admin@example.com", fullName: "Administrator", roles: ["admin", "user"] } as const;

/**
 * Writes the admin and users 1..count into DATA_DIR's database and returns
 * username → id. The users table is then non-empty, so the server's bootstrap
 * leaves it alone.
 */
export async function seedProjectDatabase(seed: ProjectSeed): Promise<Map<string, bigint>> {
  const file = sqliteFileIn(seed.dataDir);
  // Opening through the project's storage runs its migrations, so the rows below match the schema it expects.
  const migrated = await openSqliteStorage({ file });
  await migrated.close();

  const sharedHash = bcrypt.hashSync(seed.seedPassword, seed.bcryptCost);
  const adminHash = bcrypt.hashSync(seed.adminPassword, seed.bcryptCost);
  const ids = new Map<string, bigint>();
  const db = new BetterSqlite3(file);
  try {
    // Nothing reads this database until the bulk load is done, so per-commit fsyncs buy nothing here.
    db.pragma("synchronous = OFF");
    const existing = db.prepare("select count(*) as n from users").get() as { n: number };
    if (existing.n !== 0) throw new Error(`project seed: ${file} already holds ${existing.n} users`);
    const insert = db.prepare(
      `insert into users (username, email, password_hash, full_name, avatar_url, status, roles, metadata, created_at, updated_at)
       values (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)`,
    );
    const now = Date.now();
    db.transaction(() => {
      insert.run(ADMIN.username, ADMIN.email, adminHash, ADMIN.fullName, "", JSON.stringify(ADMIN.roles), "{}", now, now);
      for (const u of seedUsers(seed.users)) {
        const row = insert.run(u.username, u.email, sharedHash, u.fullName, u.avatarUrl, JSON.stringify(u.roles), JSON.stringify(u.metadata), now, now);
        ids.set(u.username, BigInt(row.lastInsertRowid));
      }
    })();
  } finally {
    db.close();
  }

  // Read back through the project's own store, so a schema change that the raw insert missed fails here, not mid-run.
  const check = await openSqliteStorage({ file });
  try {
    const count = await check.users.count();
    if (count !== seed.users + 1) throw new Error(`project seed: expected ${seed.users + 1} users, the store counts ${count}`);
    const last = [...ids.keys()].at(-1);
    if (last !== undefined) {
      const row = await check.users.findByLogin(last);
      if (row === undefined || BigInt(row.id) !== ids.get(last) || row.status !== "active") {
        throw new Error(`project seed: ${last} does not read back as an active user with id ${ids.get(last)}`);
      }
    }
  } finally {
    await check.close();
  }
  return ids;
}
