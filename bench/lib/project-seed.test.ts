/** The direct seed writes rows the project's own store reads back exactly, with working password hashes, and refuses a used database. */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteStorage, sqliteFileIn } from "../../server/storage/sqlite/sqlite-storage.js";
import { seedProjectDatabase } from "./project-seed.js";
import { seedUser } from "./seed-data.js";

describe("seedProjectDatabase", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("inserts the admin first and the shared users in order, readable through the project's store", async () => {
    dir = await mkdtemp(join(os.tmpdir(), "bench-seed-"));
    const ids = await seedProjectDatabase({ dataDir: dir, users: 100, seedPassword: "seed-pass-1", adminPassword: "admin-pass-1", bcryptCost: 4 });
    expect([...ids.entries()].slice(0, 2)).toEqual([["user00001", 2n], ["user00002", 3n]]);
    expect(ids.get("user00100")).toBe(101n);

    const storage = await openSqliteStorage({ file: sqliteFileIn(dir) });
    try {
      expect(await storage.users.count()).toBe(101);
      const admin = await storage.users.getById(1);
      expect(admin).toMatchObject({ username: "admin", email: "admin@example.com", roles: ["admin", "user"], status: "active" });
      expect(bcrypt.compareSync("admin-pass-1", admin!.passwordHash)).toBe(true);

      const expected = seedUser(100);
      const row = await storage.users.findByLogin("USER00100");
      expect(row).toMatchObject({
        id: 101,
        username: expected.username,
        email: expected.email,
        fullName: expected.fullName,
        avatarUrl: expected.avatarUrl,
        roles: ["user", "moderator"],
        metadata: expected.metadata,
        status: "active",
      });
      expect(bcrypt.compareSync("seed-pass-1", row!.passwordHash)).toBe(true);
      expect(bcrypt.compareSync("admin-pass-1", row!.passwordHash)).toBe(false);
    } finally {
      await storage.close();
    }
  });

  it("refuses to seed a database that already has users", async () => {
    dir = await mkdtemp(join(os.tmpdir(), "bench-seed-"));
    const seed = { dataDir: dir, users: 2, seedPassword: "seed-pass-1", adminPassword: "admin-pass-1", bcryptCost: 4 };
    await seedProjectDatabase(seed);
    await expect(seedProjectDatabase(seed)).rejects.toThrow(/already holds 3 users/);
  });
});
