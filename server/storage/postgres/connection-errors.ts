import { DomainError, unavailable } from "../../domain/errors.js";
import type { ChatStore, Storage, UserStore } from "../ports.js";

/** Socket-level failures: the database host is down, unreachable or dropped us. */
const socketCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

/** SQLSTATEs that mean "the server cannot serve you right now", not "your query is wrong". */
const unavailableStates = new Set([
  "57P01", // admin_shutdown (pg_terminate_backend, fast shutdown)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, recovering)
  "57P05", // idle_session_timeout
  "53300", // too_many_connections
  "25006", // read_only_sql_transaction: a failover left us on a replica
]);

/** Messages pg and pg-pool use for a lost or never-made connection; they carry no code. */
const connectionMessages = [
  /timeout exceeded when trying to connect/i,
  /connection terminated/i,
  /connection timeout/i,
  /client has encountered a connection error/i,
  /client was closed and is not queryable/i,
  /cannot use a pool after calling end/i,
  /driver has already been destroyed/i,
];

/**
 * True when an error says the database could not be reached or dropped the
 * connection, so the caller should retry later rather than blame the request.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === "string") {
    if (socketCodes.has(e.code) || unavailableStates.has(e.code) || e.code.startsWith("08")) return true;
  }
  const message = typeof e.message === "string" ? e.message : "";
  return connectionMessages.some((pattern) => pattern.test(message));
}

const DATABASE_UNAVAILABLE = "the database is unavailable; retry shortly";

/** Rethrows connection-class failures as the domain's UNAVAILABLE, everything else unchanged. */
function translate(error: unknown): never {
  if (!(error instanceof DomainError) && isConnectionError(error)) {
    throw Object.assign(unavailable(DATABASE_UNAVAILABLE), { cause: error });
  }
  throw error;
}

async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    translate(error);
  }
}

function guardStream<T>(open: () => AsyncIterable<T>): AsyncIterable<T> {
  return (async function* () {
    try {
      yield* open();
    } catch (error) {
      translate(error);
    }
  })();
}

/**
 * Wraps a storage so that a lost database surfaces as UNAVAILABLE at the
 * adapter boundary instead of INTERNAL, while the pool reconnects by itself.
 */
export function withUnavailableErrors(storage: Storage): Storage {
  const u = storage.users;
  const users: UserStore = {
    create: (row) => guard(() => u.create(row)),
    getById: (id) => guard(() => u.getById(id)),
    findByLogin: (login) => guard(() => u.findByLogin(login)),
    update: (id, patch) => guard(() => u.update(id, patch)),
    remove: (id) => guard(() => u.remove(id)),
    list: (query, signal) => guardStream(() => u.list(query, signal)),
    count: () => guard(() => u.count()),
  };
  const c = storage.chat;
  const chat: ChatStore = {
    append: (message) => guard(() => c.append(message)),
    after: (afterId, limit) => guard(() => c.after(afterId, limit)),
    visibleAfter: (userId, afterId, limit) => guard(() => c.visibleAfter(userId, afterId, limit)),
    recentVisible: (userId, limit) => guard(() => c.recentVisible(userId, limit)),
    latestId: () => guard(() => c.latestId()),
  };
  return {
    engine: storage.engine,
    users,
    chat,
    ping: () => guard(() => storage.ping()),
    close: () => storage.close(),
  };
}
