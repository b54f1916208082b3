import { Writable } from "node:stream";
import { createClient, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { AuthService } from "../../gen/user/auth_pb.js";
import { UserService } from "../../gen/user/user_pb.js";
import { createInProcessBus } from "../../server/chat/chat-bus.js";
import { loadConfig } from "../../server/config.js";
import { systemClock } from "../../server/domain/types.js";
import { createLogger } from "../../server/logger.js";
import { createRoutes, type Routes } from "../../server/routes.js";
import { createPasswordHasher, type PasswordHasher } from "../../server/security/password-hasher.js";
import type { Storage } from "../../server/storage/ports.js";
import { openSqliteStorage } from "../../server/storage/sqlite/sqlite-storage.js";
import { TEST_ADMIN_PASSWORD } from "./test-server.js";

export interface RouterFixture {
  routes: Routes;
  storage: Storage;
  /** An anonymous transport; use `as(token)` for an authenticated one. */
  transport: Transport;
  users(token?: string): Client<typeof UserService>;
  auth(token?: string): Client<typeof AuthService>;
  /** Logs in and returns the token. */
  login(username: string, password: string): Promise<string>;
  adminToken: string;
  /** Signs up a user and returns its id and token. */
  signUp(username: string, password?: string): Promise<{ id: bigint; token: string }>;
  close(): Promise<void>;
}

let sharedHasher: Promise<PasswordHasher> | undefined;

/**
 * The real routes (handlers, interceptors, domain, in-memory SQLite) on
 * Connect's in-memory router transport: every handler path without a socket.
 */
export async function createRouterFixture(env: Record<string, string> = {}): Promise<RouterFixture> {
  const config = loadConfig({ ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, BCRYPT_COST: "4", RATE_LIMIT_PER_MINUTE: "0", ...env });
  const storage = await openSqliteStorage({ file: ":memory:" });
  sharedHasher ??= createPasswordHasher({ cost: 4, threads: 2 });
  const hasher = await sharedHasher;
  const bus = createInProcessBus();
  const logger = createLogger("silent", new Writable({ write: (_c, _e, done) => done() }));
  const routes = await createRoutes(config, { storage, hasher, clock: systemClock, bus, logger });
  const make = (token?: string) =>
    createRouterTransport(routes.register, {
      router: { interceptors: routes.interceptors },
      transport: {
        interceptors:
          token === undefined
            ? []
            : [
                (next) => async (req) => {
                  req.header.set("authorization", `Bearer ${token}`);
                  return next(req);
                },
              ],
      },
    });
  const transport = make();
  const login = async (username: string, password: string) =>
    (await createClient(AuthService, transport).login({ username, password })).accessToken;
  const adminToken = await login("admin", TEST_ADMIN_PASSWORD);
  return {
    routes,
    storage,
    transport,
    users: (token) => createClient(UserService, token === undefined ? transport : make(token)),
    auth: (token) => createClient(AuthService, token === undefined ? transport : make(token)),
    login,
    adminToken,
    async signUp(username, password = "password123") {
      const res = await createClient(UserService, transport).createUser({ username, email: `${username}@example.com`, password });
      return { id: res.user?.id ?? 0n, token: await login(username, password) };
    },
    async close() {
      await routes.hub.close();
      await bus.close();
      await storage.close();
    },
  };
}
