import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, cors as connectCors, createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyCors from "@fastify/cors";
import fastifyStatic from "@fastify/static";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { ChatBus } from "./chat/chat-bus.js";
import type { ChatHub } from "./chat/chat-hub.js";
import type { Config } from "./config.js";
import type { Authenticator } from "./domain/authenticator.js";
import type { UserDirectory } from "./domain/user-directory.js";
import type { Clock } from "./domain/types.js";
import { clientAddressKey } from "./interceptors/context-keys.js";
import type { LoginThrottle } from "./security/login-throttle.js";
import type { PasswordHasher } from "./security/password-hasher.js";
import type { TokenService } from "./security/token-service.js";
import { createRoutes } from "./routes.js";
import type { Storage } from "./storage/ports.js";
import { createOnePortServer, type OnePortServer } from "./transport/one-port-server.js";

/** The adapters a server runs on; tests pass other ones. */
export interface AppDeps {
  storage: Storage;
  hasher: PasswordHasher;
  clock: Clock;
  bus: ChatBus;
  logger: Logger;
  /** Replaces the in-memory login throttle, e.g. with one shared through Redis. */
  loginThrottle?: LoginThrottle;
  /** Extra interceptors placed outside auth (outermost first), e.g. logging, metrics, rate limits. */
  outerInterceptors?: Interceptor[];
  /** Extra interceptors placed inside auth, e.g. a per-principal rate limit. */
  innerInterceptors?: Interceptor[];
  /** Registers more services on the same router, e.g. health and reflection. */
  extraRoutes?: (router: ConnectRouter) => void;
}

/** A built, not yet listening, server and the parts tests and main need to reach. */
export interface App {
  fastify: FastifyInstance;
  storage: Storage;
  server: OnePortServer;
  hub: ChatHub;
  directory: UserDirectory;
  authenticator: Authenticator;
  tokens: TokenService;
  /** Procedures callable without a token. */
  isPublic: (procedure: string) => boolean;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), existsSync(new URL("../package.json", import.meta.url)) ? ".." : "../..");

/** The built browser client, served at / when present. */
export function defaultWebRoot(): string {
  return path.join(projectRoot, "web-client", "dist");
}

/** Composes adapters, domain, handlers and the Fastify host; `listen` is left to the caller. */
export async function buildApp(config: Config, deps: AppDeps): Promise<App> {
  const { storage, logger } = deps;
  const routes = await createRoutes(config, deps);
  const { hub, directory, authenticator, tokens, isPublic } = routes;

  let server: OnePortServer | undefined;
  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per RPC comes from the logging interceptor, not from Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    // Connect routes read their own bodies; this limit guards the few plain JSON routes.
    bodyLimit: 1024 * 1024,
    serverFactory: (handler) => {
      server = createOnePortServer(
        {
          tls:
            config.tlsCert !== undefined && config.tlsKey !== undefined
              ? { certFile: config.tlsCert, keyFile: config.tlsKey, clientCaFile: config.tlsClientCa }
              : undefined,
        },
        handler as Parameters<typeof createOnePortServer>[1],
      );
      return server as never;
    },
  });

  await fastify.register(fastifyCors, {
    origin: config.corsOrigins === "*" ? true : config.corsOrigins,
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "Traceparent", "Tracestate"],
    exposedHeaders: [...connectCors.exposedHeaders, "X-Request-Id", "Retry-After"],
    maxAge: 2 * 60 * 60,
  });

  await fastify.register(fastifyConnectPlugin, {
    interceptors: routes.interceptors,
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    maxTimeoutMs: config.maxTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    shutdownError: new ConnectError("server is shutting down", Code.Unavailable),
    contextValues: (req) => createContextValues().set(clientAddressKey, req.ip ?? req.socket.remoteAddress ?? "unknown"),
    routes: routes.register,
  });

  fastify.get("/healthz", async () => ({ status: "ok" }));
  fastify.get("/readyz", async (_req, reply) => {
    try {
      await storage.ping();
      return { status: "ready" };
    } catch {
      return reply.code(503).send({ status: "storage unavailable" });
    }
  });

  const webRoot = config.webRoot ?? defaultWebRoot();
  if (existsSync(path.join(webRoot, "index.html"))) {
    await fastify.register(fastifyStatic, { root: path.resolve(webRoot), prefix: "/", index: ["index.html"] });
  }

  fastify.addHook("preClose", (done) => {
    server?.drain();
    done();
  });
  fastify.addHook("onClose", async () => {
    await hub.close();
  });

  if (server === undefined) throw new Error("fastify did not create the server");
  return { fastify, storage, server, hub, directory, authenticator, tokens, isPublic };
}
