/**
 * Baseline: the seed's UserService as the seed builds it (@grpc/grpc-js,
 * proto-loader with keepCase/longs String/enums String/defaults, an in-memory
 * Map, JWT checked by a server interceptor on every call, UserChat broadcasting
 * to a Map of sessions) minus its artificial 100 ms per streamed row, so the
 * project has an honest "before" to beat.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import bcrypt from "bcryptjs";
import { bearerToken, createVerifier } from "../lib/jwt-keys.js";
import { seedUsers } from "../lib/seed-data.js";
import { announceReady, exitOnSignal, readBaselineEnv } from "./baseline-env.js";

/** A stored user in the seed's shape (proto field names, enum names as strings). */
interface StoredUser {
  id: number;
  username: string;
  email: string;
  password: string;
  full_name: string;
  avatar_url: string;
  created_at: number;
  updated_at: number;
  status: string;
  roles: string[];
  metadata: Record<string, string>;
}

type PublicUser = Omit<StoredUser, "password">;

/** The request shapes proto-loader hands us with keepCase, longs String and defaults. */
interface CreateUserInput {
  username: string;
  email: string;
  password: string;
  full_name: string;
  avatar_url: string;
  roles: string[];
  metadata: Record<string, string>;
}

interface ListUsersInput {
  page: number;
  page_size: number;
  search: string;
  status: string;
  roles: string[];
  sort_by: string;
  sort_order: string;
}

const env = readBaselineEnv("grpc-js-baseline");
const protoPath = fileURLToPath(new URL("../../proto/user/user.proto", import.meta.url));
const definition = protoLoader.loadSync(protoPath, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  user: { UserService: grpc.ServiceClientConstructor };
};

/** The seed's UserDatabase: a Map by id with linear scans for username/email. */
class UserStore {
  readonly users = new Map<number, StoredUser>();
  private nextId = 1;

  insert(input: Omit<CreateUserInput, "password">, passwordHash: string): StoredUser {
    const now = Date.now();
    const user: StoredUser = {
      id: this.nextId++,
      username: input.username,
      email: input.email,
      password: passwordHash,
      full_name: input.full_name || "",
      avatar_url: input.avatar_url || "",
      created_at: now,
      updated_at: now,
      status: "USER_STATUS_ACTIVE",
      roles: input.roles.length > 0 ? input.roles : ["user"],
      metadata: input.metadata ?? {},
    };
    this.users.set(user.id, user);
    return user;
  }

  async create(input: CreateUserInput): Promise<StoredUser> {
    const hash = await bcrypt.hash(input.password, env.bcryptCost);
    return this.insert(input, hash);
  }

  byId(id: string | number): StoredUser | undefined {
    return this.users.get(typeof id === "number" ? id : parseInt(id, 10));
  }

  byUsername(username: string): StoredUser | undefined {
    for (const user of this.users.values()) if (user.username === username) return user;
    return undefined;
  }

  byEmail(email: string): StoredUser | undefined {
    for (const user of this.users.values()) if (user.email === email) return user;
    return undefined;
  }

  list(filters: ListUsersInput): StoredUser[] {
    let rows = Array.from(this.users.values());
    const wanted = filters.status;
    rows = wanted && wanted !== "USER_STATUS_UNSPECIFIED"
      ? rows.filter((u) => u.status === wanted)
      : rows.filter((u) => u.status !== "USER_STATUS_DELETED");
    if (filters.search) {
      const needle = filters.search.toLowerCase();
      rows = rows.filter((u) =>
        u.username.toLowerCase().includes(needle) ||
        u.email.toLowerCase().includes(needle) ||
        u.full_name.toLowerCase().includes(needle));
    }
    if (filters.roles.length > 0) rows = rows.filter((u) => filters.roles.some((r) => u.roles.includes(r)));
    if (filters.sort_by) {
      const key = filters.sort_by as keyof StoredUser;
      const dir = filters.sort_order === "desc" ? -1 : 1;
      rows.sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
    }
    const page = filters.page || 1;
    const size = filters.page_size || 10;
    return rows.slice((page - 1) * size, page * size);
  }
}

/** Drops the password hash, as the seed does before answering. */
function publicUser(user: StoredUser): PublicUser {
  const copy: Partial<StoredUser> = { ...user };
  delete copy.password;
  return copy as PublicUser;
}

/** Validates and stores one user, or returns the reason it failed as a gRPC status. */
async function createChecked(store: UserStore, req: CreateUserInput): Promise<StoredUser | grpc.StatusObject> {
  const fail = (code: grpc.status, details: string) => ({ code, details, metadata: new grpc.Metadata() });
  if (!req.username || !req.email || !req.password) return fail(grpc.status.INVALID_ARGUMENT, "Username, email, and password are required");
  if (store.byUsername(req.username)) return fail(grpc.status.ALREADY_EXISTS, "Username already exists");
  if (store.byEmail(req.email)) return fail(grpc.status.ALREADY_EXISTS, "Email already exists");
  if (req.password.length < 6) return fail(grpc.status.INVALID_ARGUMENT, "Password must be at least 6 characters long");
  return store.create(req);
}

function isStatus(value: StoredUser | grpc.StatusObject): value is grpc.StatusObject {
  return "code" in value;
}

/** The seed's AuthMiddleware as a server interceptor: every call needs a valid bearer JWT. */
function authInterceptor(verify: ReturnType<typeof createVerifier>): grpc.ServerInterceptor {
  return (_method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const token = bearerToken(metadata.get("authorization")[0] as string | undefined);
        if (!token) {
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "Missing or invalid authorization header" });
          return;
        }
        try {
          const claims = verify(token);
          metadata.set("user-id", String(claims.userId));
          metadata.set("user-roles", JSON.stringify(claims.roles));
          next(metadata);
        } catch {
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "Invalid token" });
        }
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

/** A chat message in proto-loader's shape (keepCase, longs String, enums String). */
interface ChatInput {
  from_user_id: string;
  to_user_id: string;
  content: string;
  timestamp: string;
  type: string;
}

/**
 * The seed's UserChat: every session goes in a Map; each message is echoed
 * to its sender as a system message and written to every other session.
 * Per-message console logging is left out, and a cancelled session is
 * dropped too (the seed only dropped it on end/error and kept writing to it).
 */
function buildUserChat(): grpc.handleBidiStreamingCall<ChatInput, unknown> {
  const sessions = new Map<string, grpc.ServerDuplexStream<ChatInput, unknown>>();
  const broadcast = (message: ChatInput, exclude: string) => {
    for (const [id, call] of sessions) {
      if (id === exclude) continue;
      try {
        call.write(message);
      } catch {
        sessions.delete(id);
      }
    }
  };
  return (call) => {
    const sessionId = randomUUID();
    sessions.set(sessionId, call);
    call.on("data", (message: ChatInput) => {
      call.write({
        from_user_id: 0,
        to_user_id: message.from_user_id,
        content: `Echo: ${message.content}`,
        timestamp: Date.now(),
        type: "MESSAGE_TYPE_SYSTEM",
      });
      broadcast(message, sessionId);
    });
    call.on("end", () => {
      sessions.delete(sessionId);
      call.end();
    });
    call.on("cancelled", () => sessions.delete(sessionId));
    call.on("error", () => sessions.delete(sessionId));
  };
}

function buildHandlers(store: UserStore): grpc.UntypedServiceImplementation {
  const getUser: grpc.handleUnaryCall<{ user_id: string; fields: string[] }, unknown> = (call, callback) => {
    const { user_id, fields } = call.request;
    if (!user_id || user_id === "0") {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: "User ID is required" });
      return;
    }
    const user = store.byId(user_id);
    if (!user) {
      callback(null, { user: null, found: false });
      return;
    }
    let out: Record<string, unknown> = publicUser(user);
    if (fields.length > 0) {
      const picked: Record<string, unknown> = {};
      for (const f of fields) if (out[f] !== undefined) picked[f] = out[f];
      out = picked;
    }
    callback(null, { user: out, found: true });
  };

  const createUser: grpc.handleUnaryCall<CreateUserInput, unknown> = (call, callback) => {
    createChecked(store, call.request).then(
      (result) => isStatus(result)
        ? callback(result)
        : callback(null, { user: publicUser(result), success: true, message: "User created successfully" }),
      (err: Error) => callback({ code: grpc.status.INTERNAL, details: err.message }),
    );
  };

  const listUsers: grpc.handleServerStreamingCall<ListUsersInput, unknown> = (call) => {
    for (const user of store.list(call.request)) call.write(publicUser(user));
    call.end();
  };

  // Items are handled one after another and the reply waits for all of them
  // (the seed answered on 'end' before its async hashes had finished).
  const batchCreateUsers: grpc.handleClientStreamingCall<CreateUserInput, unknown> = (call, callback) => {
    const users: PublicUser[] = [];
    const errors: string[] = [];
    const itemErrors: { index: number; code: string; message: string; fields: string[] }[] = [];
    let index = 0;
    let chain = Promise.resolve();
    call.on("data", (req: CreateUserInput) => {
      const at = index++;
      chain = chain.then(async () => {
        const result = await createChecked(store, req);
        if (isStatus(result)) {
          errors.push(`item ${at}: ${result.details}`);
          itemErrors.push({ index: at, code: grpc.status[result.code], message: result.details, fields: [] });
        } else {
          users.push(publicUser(result));
        }
      });
    });
    call.on("end", () => {
      chain.then(
        () => callback(null, { users, success_count: users.length, error_count: errors.length, errors, item_errors: itemErrors }),
        (err: Error) => callback({ code: grpc.status.INTERNAL, details: err.message }),
      );
    });
    call.on("error", () => callback({ code: grpc.status.INTERNAL, details: "Stream error occurred" }));
  };

  return { GetUser: getUser, CreateUser: createUser, ListUsers: listUsers, BatchCreateUsers: batchCreateUsers, UserChat: buildUserChat() };
}

async function main(): Promise<void> {
  const store = new UserStore();
  // One hash shared by every seeded user: hashing 10,000 passwords at cost 10 would take minutes.
  const sharedHash = await bcrypt.hash(env.seedPassword || randomBytes(12).toString("hex"), env.bcryptCost);
  for (const u of seedUsers(env.users)) {
    store.insert({ username: u.username, email: u.email, full_name: u.fullName, avatar_url: u.avatarUrl, roles: u.roles, metadata: u.metadata }, sharedHash);
  }
  const server = new grpc.Server({ interceptors: [authInterceptor(createVerifier(env.jwtSecret))] });
  server.addService(loaded.user.UserService.service, buildHandlers(store));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${env.host}:${env.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  exitOnSignal(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  announceReady("grpc-js-baseline", port, `users=${store.users.size}`);
}

main().catch((err: unknown) => {
  console.error("grpc-js-baseline failed:", err);
  process.exit(1);
});
