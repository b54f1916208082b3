import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Interceptor } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AuthService, type LoginResponse, type RefreshTokenResponse } from "../gen/user/auth_pb.js";
import {
  UserService,
  type BatchCreateUsersResponse,
  type ChatMessage,
  type CreateUserRequestSchema,
  type ListUsersRequestSchema,
  type UpdateUserRequestSchema,
  type User,
} from "../gen/user/user_pb.js";
import { defaultKeepalive, type ConnectionOptions, type KeepaliveOptions, type TlsOptions } from "./backend-connection.js";
import type { BackendAddress, BackendStatus } from "./backend-pool.js";
import { createBalancedTransport, type BalancedTransport } from "./balanced-transport.js";
import type { BalancerStrategyName } from "./balancer-strategy.js";
import { openChatSession, type ChatSendOptions, type ChatSession } from "./chat-session.js";
import { checkConnection, type ConnectionReport } from "./check-connection.js";
import { createDebugInterceptor, stderrSink, type DebugSink } from "./debug-interceptor.js";
import { defaultHealthWatchOptions, type HealthWatchOptions } from "./health-watcher.js";
import type { Protocol } from "./protocol.js";
import { defaultRetryPolicy, type RetryPolicy } from "./retry-policy.js";
import { createBearerInterceptor, createTokenStore } from "./token-store.js";

/** Deadline of calls that set none: long enough for a bcrypt-heavy create, short enough to notice a hung server. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Streams that are meant to stay open; they get no default deadline. */
const longLivedProcedures = new Set(["user.UserService/UserChat", "user.UserService/SubscribeChat", "grpc.health.v1.Health/Watch"]);

export interface UserClientOptions {
  /** One server, e.g. "http://localhost:50051". */
  baseUrl?: string;
  /** Several servers to balance over; strings or { url, weight }. */
  addresses?: readonly (string | BackendAddress)[];
  /** gRPC unless told otherwise. */
  protocol?: Protocol;
  /** A bearer token to start with; login() replaces it. */
  token?: string;
  /** How calls are spread over several addresses; round-robin by default. */
  strategy?: BalancerStrategyName;
  /** grpc.health.v1 checks of each backend; on by default with several addresses, off with one. */
  healthCheck?: boolean | Partial<HealthWatchOptions>;
  /** Default deadline per call in ms (retries included); 0 means none. */
  timeoutMs?: number;
  /** Retry tuning, or false for a single attempt. */
  retry?: Partial<RetryPolicy> | false;
  keepalive?: Partial<KeepaliveOptions>;
  /** HTTP version for Connect and gRPC-Web ("2" by default); gRPC always uses HTTP/2. */
  httpVersion?: "1.1" | "2";
  /** Binary protobuf on the wire; JSON is the default only for Connect. */
  useBinaryFormat?: boolean;
  tls?: TlsOptions;
  /** Logs every call (secrets redacted); true writes to stderr. Defaults to USERS_DEBUG=1. */
  debug?: boolean | DebugSink;
  /** More interceptors, run on every attempt before the built-in ones. */
  interceptors?: Interceptor[];
  /** Told when a backend's health changes. */
  onHealthChange?: (status: BackendStatus) => void;
}

export type CreateUserInput = MessageInitShape<typeof CreateUserRequestSchema>;
export type UserChanges = Omit<MessageInitShape<typeof UpdateUserRequestSchema>, "userId" | "$typeName">;
export type ListUsersFilter = MessageInitShape<typeof ListUsersRequestSchema>;
export type UserId = bigint | number | string;

export interface SubscribeChatOptions {
  /** Resume after this message id; 0 replays recent history. */
  sinceId?: UserId;
  historyLimit?: number;
  /** Also yield the server's keep-alive messages (id 0); off by default. */
  keepalives?: boolean;
}

/** The typed client of the user service: every RPC as a promise or an async iterable. */
export interface UserClient {
  /** The raw generated clients, for options this wrapper does not cover. */
  readonly users: Client<typeof UserService>;
  readonly auth: Client<typeof AuthService>;
  readonly health: Client<typeof Health>;
  /** The token sent with each call, if any. */
  readonly token: string | undefined;
  setToken(token: string | undefined): void;

  login(username: string, password: string, options?: CallOptions): Promise<LoginResponse>;
  refresh(options?: CallOptions): Promise<RefreshTokenResponse>;
  whoAmI(options?: CallOptions): Promise<User>;

  getUser(id: UserId, options?: CallOptions & { fields?: string[] }): Promise<User | undefined>;
  createUser(input: CreateUserInput, options?: CallOptions): Promise<User>;
  updateUser(id: UserId, changes: UserChanges, options?: CallOptions): Promise<User>;
  /** Soft-deletes (status DELETED) unless `soft: false`, which removes the user. */
  deleteUser(id: UserId, options?: CallOptions & { soft?: boolean }): Promise<void>;
  listUsers(filter?: ListUsersFilter, options?: CallOptions): AsyncIterable<User>;
  /** listUsers gathered into an array. */
  collectUsers(filter?: ListUsersFilter, options?: CallOptions): Promise<User[]>;
  batchCreateUsers(items: Iterable<CreateUserInput> | AsyncIterable<CreateUserInput>, options?: CallOptions): Promise<BatchCreateUsersResponse>;

  chat(options?: { signal?: AbortSignal }): ChatSession;
  subscribeChat(options?: SubscribeChatOptions & CallOptions): AsyncIterable<ChatMessage>;
  sendChatMessage(content: string, options?: ChatSendOptions & CallOptions): Promise<ChatMessage>;

  /** Asks every address's health service within the deadline, on fresh connections. */
  checkConnection(options?: { timeoutMs?: number; service?: string }): Promise<ConnectionReport[]>;
  /** Per-backend health and traffic counters. */
  backends(): BackendStatus[];
  /** Stops health checks and closes the connections; needed for the process to exit when health checks run. */
  close(): void;
}

/** Gathers an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function toId(id: UserId): bigint {
  return typeof id === "bigint" ? id : BigInt(id);
}

function envDebug(): boolean {
  const value = process.env["USERS_DEBUG"]?.trim().toLowerCase();
  return value === "1" || value === "true" || value === "yes" || value === "on";
}

async function* toAsync<T>(items: Iterable<T> | AsyncIterable<T>): AsyncIterable<T> {
  yield* items;
}

function missing(what: string): never {
  throw new ConnectError(`the server's response has no ${what}`, Code.Internal);
}

/**
 * Creates a client for one server (`baseUrl`) or several (`addresses`), with
 * one kept-alive connection per server, default deadlines, safe retries,
 * load balancing with health checks, and optional debug logging.
 */
export function createUserClient(options: UserClientOptions): UserClient {
  const addresses: BackendAddress[] = (options.addresses ?? (options.baseUrl === undefined ? [] : [options.baseUrl])).map((a) =>
    typeof a === "string" ? { url: a } : a,
  );
  if (addresses.length === 0) throw new RangeError("createUserClient needs baseUrl or addresses");
  for (const address of addresses) {
    if (!/^https?:\/\/[^/]+/.test(address.url)) throw new RangeError(`address must be an http:// or https:// URL, got "${address.url}"`);
  }
  const protocol = options.protocol ?? "grpc";
  const connection: ConnectionOptions = {
    protocol,
    httpVersion: options.httpVersion ?? "2",
    useBinaryFormat: options.useBinaryFormat ?? protocol !== "connect",
    keepalive: { ...defaultKeepalive, ...options.keepalive },
    tls: options.tls,
  };
  const tokens = createTokenStore(options.token);
  const debug = options.debug ?? envDebug();
  const interceptors: Interceptor[] = [...(options.interceptors ?? []), createBearerInterceptor(tokens)];
  if (debug !== false) interceptors.push(createDebugInterceptor(debug === true ? stderrSink : debug));
  const healthCheck = options.healthCheck ?? addresses.length > 1;
  const transport: BalancedTransport = createBalancedTransport({
    backends: addresses,
    strategy: options.strategy ?? "round-robin",
    connection,
    interceptors,
    retry: options.retry === false ? { ...defaultRetryPolicy, maxAttempts: 1 } : { ...defaultRetryPolicy, ...options.retry },
    defaultTimeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    longLivedProcedures,
    health: healthCheck === false ? false : { ...defaultHealthWatchOptions, ...(healthCheck === true ? {} : healthCheck) },
    onHealthChange: options.onHealthChange,
  });
  const users = createClient(UserService, transport);
  const auth = createClient(AuthService, transport);
  const health = createClient(Health, transport);

  return {
    users,
    auth,
    health,
    get token() {
      return tokens.get();
    },
    setToken: (token) => tokens.set(token),

    async login(username, password, callOptions) {
      const res = await auth.login({ username, password }, callOptions);
      tokens.set(res.accessToken);
      return res;
    },
    async refresh(callOptions) {
      const res = await auth.refreshToken({}, callOptions);
      tokens.set(res.accessToken);
      return res;
    },
    async whoAmI(callOptions) {
      return (await auth.whoAmI({}, callOptions)).user ?? missing("user");
    },

    async getUser(id, callOptions = {}) {
      const { fields, ...rest } = callOptions;
      const res = await users.getUser({ userId: toId(id), fields: fields ?? [] }, rest);
      return res.found ? (res.user ?? missing("user")) : undefined;
    },
    async createUser(input, callOptions) {
      return (await users.createUser(input, callOptions)).user ?? missing("user");
    },
    async updateUser(id, changes, callOptions) {
      return (await users.updateUser({ ...changes, userId: toId(id) }, callOptions)).user ?? missing("user");
    },
    async deleteUser(id, callOptions = {}) {
      const { soft, ...rest } = callOptions;
      await users.deleteUser({ userId: toId(id), softDelete: soft ?? true }, rest);
    },
    listUsers(filter = {}, callOptions) {
      return users.listUsers(filter, callOptions);
    },
    collectUsers(filter = {}, callOptions) {
      return collect(users.listUsers(filter, callOptions));
    },
    batchCreateUsers(items, callOptions) {
      return users.batchCreateUsers(toAsync(items), callOptions);
    },

    chat(chatOptions) {
      return openChatSession(users, chatOptions);
    },
    subscribeChat(subscribeOptions = {}) {
      const { sinceId, historyLimit, keepalives, ...rest } = subscribeOptions;
      const stream = users.subscribeChat({ sinceId: toId(sinceId ?? 0), historyLimit: historyLimit ?? 0 }, rest);
      if (keepalives === true) return stream;
      return (async function* () {
        for await (const message of stream) if (message.id !== 0n) yield message;
      })();
    },
    async sendChatMessage(content, sendOptions = {}) {
      const { toUserId, type, ...rest } = sendOptions;
      const res = await users.sendChatMessage({ content, toUserId: BigInt(toUserId ?? 0), type }, rest);
      return res.message ?? missing("message");
    },

    async checkConnection(checkOptions = {}) {
      return Promise.all(
        addresses.map((a) => checkConnection(a.url, connection, { timeoutMs: checkOptions.timeoutMs ?? 5_000, service: checkOptions.service })),
      );
    },
    backends: () => transport.status(),
    close: () => transport.close(),
  };
}
