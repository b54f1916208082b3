import { randomBytes } from "node:crypto";
import pg from "pg";
import { createClient } from "redis";

/** The PostgreSQL server tests create their databases and schemas on. */
export const testDatabaseUrl = process.env["TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
/** The Redis server tests use, always with their own key prefix. */
export const testRedisUrl = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";

export type ServiceName = "postgres" | "redis";

const PROBE_TIMEOUT_MS = 2000;
const probes = new Map<ServiceName, Promise<string | undefined>>();

async function probePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(): Promise<void> {
  const client = createClient({ url: testRedisUrl, socket: { connectTimeout: PROBE_TIMEOUT_MS, reconnectStrategy: false } });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.destroy();
  }
}

/** Why the service is unusable, or undefined when it answered. */
function whyUnavailable(name: ServiceName): Promise<string | undefined> {
  let probe = probes.get(name);
  if (probe === undefined) {
    const run = name === "postgres" ? probePostgres : probeRedis;
    probe = run().then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message || error.name : String(error)),
    );
    probes.set(name, probe);
  }
  return probe;
}

/**
 * True when every named service answers. When one does not, prints one line
 * saying why and returns false so the caller can skip; with REQUIRE_SERVICES=1
 * (as CI sets) it throws instead, so a missing service fails the run.
 */
export async function servicesAvailable(...names: ServiceName[]): Promise<boolean> {
  for (const name of names) {
    const reason = await whyUnavailable(name);
    if (reason === undefined) continue;
    const url = name === "postgres" ? testDatabaseUrl : testRedisUrl;
    const line = `${name} at ${new URL(url).host} is unreachable (${reason})`;
    if (process.env["REQUIRE_SERVICES"] === "1") throw new Error(`${line}; REQUIRE_SERVICES=1 forbids skipping`);
    console.warn(`skipping: ${line}`);
    return false;
  }
  return true;
}

/** A short random name part, so parallel runs never share a database, schema or key prefix. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs one statement on the test server's maintenance connection. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  client.on("error", () => {});
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `users_test_${uniqueSuffix()}`;
  await adminQuery(`create database ${name}`);
  return {
    name,
    url: withDatabase(testDatabaseUrl, name),
    async drop() {
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

export interface TestSchema {
  name: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/** A fresh schema name in the test database; openPostgresStorage creates it. */
export function testSchema(): TestSchema {
  const name = `contract_${uniqueSuffix()}`;
  return {
    name,
    async drop() {
      await adminQuery(`drop schema if exists ${name} cascade`);
    },
  };
}

/** A Redis key prefix of its own, so parallel runs never see each other's channels and counters. */
export function testRedisPrefix(): string {
  return `users-test:${uniqueSuffix()}:`;
}
