import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DomainError } from "../../domain/errors.js";
import { adminQuery, servicesAvailable, testDatabaseUrl, testSchema, type TestSchema } from "../../../test/support/services.js";
import { startTcpProxy, type TcpProxy } from "../../../test/support/tcp-proxy.js";
import type { NewUserRow, Storage } from "../ports.js";
import { describeStorageContract } from "../storage-contract.js";
import { isConnectionError } from "./connection-errors.js";
import { openPostgresStorage } from "./postgres-storage.js";

const available = await servicesAvailable("postgres");

const T0 = 1_700_000_000_000;
const row = (username: string): NewUserRow => ({
  username,
  email: `${username}@example.com`,
  passwordHash: "h",
  fullName: "",
  avatarUrl: "",
  status: "active",
  roles: ["user"],
  metadata: {},
  createdAt: T0,
});

/** Resolves to what a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

function expectUnavailable(error: unknown): void {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).kind).toBe("unavailable");
  expect((error as DomainError).message).toBe("the database is unavailable; retry shortly");
}

describe.skipIf(!available)("PostgreSQL storage", () => {
  // One migrated schema for the whole suite; each test starts from empty tables, which is much quicker than migrating anew.
  const contractSchema = testSchema();
  let shared: Storage | undefined;
  afterAll(async () => {
    await shared?.close();
    await contractSchema.drop();
  });
  describeStorageContract("postgres", async () => {
    shared ??= await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 8, schema: contractSchema.name });
    await adminQuery(`truncate table ${contractSchema.name}.users, ${contractSchema.name}.chat_messages restart identity`);
    return { storage: shared, cleanup: async () => {} };
  });

  describe("migrations and isolation", () => {
    const schemas: TestSchema[] = [];
    const opened: Storage[] = [];
    afterAll(async () => {
      for (const s of opened) await s.close();
      for (const s of schemas) await s.drop();
    });

    it("keeps tables and migration bookkeeping inside the schema, so two schemas never share state", async () => {
      const a = testSchema();
      const b = testSchema();
      schemas.push(a, b);
      const sa = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 2, schema: a.name });
      opened.push(sa);
      const sb = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 2, schema: b.name });
      opened.push(sb);
      await sa.users.create(row("only-in-a"));
      expect(await sa.users.count()).toBe(1);
      expect(await sb.users.count()).toBe(0);
      const tables = await adminQuery<{ table_schema: string; table_name: string }>(
        `select table_schema, table_name from information_schema.tables where table_schema = any($1) order by 1, 2`,
        [[a.name, b.name]],
      );
      const expected = ["chat_messages", "kysely_migration", "kysely_migration_lock", "users"];
      expect(tables.rows.filter((r) => r.table_schema === a.name).map((r) => r.table_name)).toEqual(expected);
      expect(tables.rows.filter((r) => r.table_schema === b.name).map((r) => r.table_name)).toEqual(expected);
      const applied = await adminQuery<{ name: string }>(`select name from ${b.name}.kysely_migration order by name`);
      expect(applied.rows.map((r) => r.name)).toEqual(["0001_users", "0002_chat_messages"]);
    });

    it("migrates exactly once when several replicas start at the same moment", async () => {
      const s = testSchema();
      schemas.push(s);
      const replicas = await Promise.all(
        Array.from({ length: 5 }, () => openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 2, schema: s.name })),
      );
      opened.push(...replicas);
      const applied = await adminQuery<{ name: string }>(`select name from ${s.name}.kysely_migration order by name`);
      expect(applied.rows.map((r) => r.name)).toEqual(["0001_users", "0002_chat_messages"]);
      await replicas[0]!.users.create(row("shared"));
      for (const replica of replicas) expect((await replica.users.findByLogin("SHARED"))?.username).toBe("shared");
    });

    it("opens an already migrated schema again without changes", async () => {
      const s = testSchema();
      schemas.push(s);
      const first = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 1, schema: s.name });
      await first.users.create(row("kept"));
      await first.close();
      const second = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 1, schema: s.name });
      opened.push(second);
      expect((await second.users.findByLogin("kept"))?.username).toBe("kept");
    });

    it("refuses a schema name that is not a plain identifier", async () => {
      await expect(openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 1, schema: "x; drop table users" })).rejects.toThrow(
        'invalid PostgreSQL schema name "x; drop table users"',
      );
    });
  });

  describe("streaming", () => {
    let storage: Storage | undefined;
    const schema = testSchema();
    afterAll(async () => {
      await storage?.close();
      await schema.drop();
    });

    it("returns its one connection to the pool when a consumer stops or aborts a stream", async () => {
      storage = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 1, schema: schema.name });
      for (let i = 0; i < 120; i++) await storage.users.create(row(`s${String(i).padStart(3, "0")}`));
      const q = { search: "", status: undefined, roles: [], sortBy: "id" as const, sortOrder: "asc" as const, offset: 0, limit: 1000 };
      let n = 0;
      for await (const _ of storage.users.list(q)) if (++n === 5) break;
      // With a pool of one, this would wait forever if the cursor still held the connection.
      expect(await storage.users.count()).toBe(120);
      const controller = new AbortController();
      n = 0;
      for await (const _ of storage.users.list(q, controller.signal)) if (++n === 105) controller.abort();
      expect(n).toBe(105);
      expect(await storage.users.count()).toBe(120);
      let all = 0;
      for await (const _ of storage.users.list(q)) all++;
      expect(all).toBe(120);
    });
  });

  describe("losing the database", () => {
    let proxy: TcpProxy | undefined;
    let storage: Storage | undefined;
    const schema = testSchema();
    afterEach(async () => {
      await storage?.close();
      storage = undefined;
      await proxy?.close();
      proxy = undefined;
    });
    afterAll(() => schema.drop());

    async function openThroughProxy(): Promise<{ storage: Storage; proxy: TcpProxy }> {
      const target = new URL(testDatabaseUrl);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const url = new URL(testDatabaseUrl);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port);
      storage = await openPostgresStorage({ connectionString: url.toString(), poolSize: 3, schema: schema.name, connectTimeoutMs: 1000 });
      return { storage, proxy };
    }

    it("fails with UNAVAILABLE while the database is unreachable and recovers by itself when it returns", async () => {
      const { storage, proxy } = await openThroughProxy();
      const user = await storage.users.create(row("survivor"));
      await proxy.cut();
      expectUnavailable(await rejection(storage.users.getById(user.id)));
      expectUnavailable(await rejection(storage.ping()));
      expectUnavailable(await rejection(storage.users.create(row("lost"))));
      expectUnavailable(await rejection(storage.chat.latestId()));
      const q = { search: "", status: undefined, roles: [], sortBy: "id" as const, sortOrder: "asc" as const, offset: 0, limit: 10 };
      expectUnavailable(
        await rejection(
          (async () => {
            for await (const _ of storage.users.list(q));
          })(),
        ),
      );
      await proxy.restore();
      expect((await storage.users.getById(user.id))?.username).toBe("survivor");
      await expect(storage.ping()).resolves.toBeUndefined();
      expect(await storage.users.findByLogin("lost")).toBeUndefined();
    });

    it("replaces connections the server terminated (pg_terminate_backend) without reopening", async () => {
      const applicationName = `users-test-${schema.name}`;
      storage = await openPostgresStorage({ connectionString: testDatabaseUrl, poolSize: 3, schema: schema.name, applicationName });
      const s = storage;
      const before = await s.users.count();
      await Promise.all([s.users.count(), s.users.count(), s.users.count()]);
      const killed = await adminQuery<{ n: string }>(
        "select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = $1",
        [applicationName],
      );
      expect(Number(killed.rows[0]?.n)).toBeGreaterThan(0);
      // Every call either succeeds or fails as UNAVAILABLE; none fails as something unexpected.
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => s.users.count()));
      for (const outcome of outcomes) if (outcome.status === "rejected") expectUnavailable(outcome.reason);
      expect(await s.users.count()).toBe(before);
      const left = await adminQuery<{ n: string }>("select count(*) as n from pg_stat_activity where application_name = $1", [applicationName]);
      expect(Number(left.rows[0]?.n)).toBeGreaterThan(0);
    });

    it("cannot open against a closed port, and says it is a connection failure", async () => {
      const { proxy: p } = await openThroughProxy();
      await p.cut();
      const url = new URL(testDatabaseUrl);
      url.hostname = "127.0.0.1";
      url.port = String(p.port);
      const error = await rejection(openPostgresStorage({ connectionString: url.toString(), poolSize: 1, connectTimeoutMs: 500 }));
      expect(isConnectionError(error)).toBe(true);
    });
  });
});
