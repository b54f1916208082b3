import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, cors as connectCors, createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyCors from "@fastify/cors";
import fastifyStatic from "@fastify/static";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Health, file_grpc_health_v1_health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_user_auth } from "../gen/user/auth_pb.js";
import { file_user_user } from "../gen/user/user_pb.js";
import type { ChatBus } from "./chat/chat-bus.js";
import type { ChatHub } from "./chat/chat-hub.js";
import type { Config } from "./config.js";
import type { Authenticator } from "./domain/authenticator.js";
import type { UserDirectory } from "./domain/user-directory.js";
import type { Clock } from "./domain/types.js";
import { createHealthRegistry, type HealthRegistry } from "./health/health-registry.js";
import { createHealthProbe } from "./health/storage-health.js";
import { clientAddressKey } from "./interceptors/context-keys.js";
import { createLoggingInterceptor } from "./interceptors/logging.js";
import { createMetricsInterceptor } from "./interceptors/metrics.js";
import { createTracingInterceptor } from "./interceptors/tracing.js";
import { startMetricsListener, type MetricsListener } from "./observability/metrics-listener.js";
import { createServerMetrics, type ServerMetrics } from "./observability/server-metrics.js";
import { traceStorage } from "./observability/traced-storage.js";
import { createTracing, type Tracing } from "./observability/tracing-setup.js";
import type { CallLimiter } from "./interceptors/rate-limit.js";
import type { LoginThrottle } from "./security/login-throttle.js";
import type { PasswordHasher } from "./security/password-hasher.js";
import type { TokenService } from "./security/token-service.js";
import { createRoutes } from "./routes.js";
import { createHealthService } from "./services/health-service.js";
import { createReflectionServices } from "./services/reflection-service.js";
import type { Storage } from "./storage/ports.js";
import { withUserCache } from "./cache/cached-storage.js";
import { createLocalInvalidationChannel, type InvalidationChannel } from "./cache/invalidation-channel.js";
import { createClientAddressResolver } from "./transport/client-address.js";
import { CallValues } from "./transport/context-values.js";
import { createConnectFastPath, type ConnectFastPath } from "./transport/connect-fast-path.js";
import { CallTracker, createFastRoutes } from "./transport/fast-routes.js";
import { createGrpcFastPath, type GrpcFastPath } from "./transport/grpc-fast-path.js";
import { useNodeTextEncoding } from "./transport/text-encoding.js";
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
  /** Replaces the in-memory per-caller rate limit bucket (createCallLimiter with a Redis makeLimiter); used when RATE_LIMIT_PER_MINUTE > 0. */
  callLimiter?: CallLimiter;
  /** Extra interceptors placed outside auth (outermost first), e.g. logging, metrics, rate limits. */
  outerInterceptors?: Interceptor[];
  /** Extra interceptors placed inside auth, e.g. a per-principal rate limit. */
  innerInterceptors?: Interceptor[];
  /** Registers more services on the same router. */
  extraRoutes?: (router: ConnectRouter) => void;
  /** Replaces the tracing built from OTEL_EXPORTER_OTLP_ENDPOINT, e.g. with an in-memory exporter. */
  tracing?: Tracing;
  /** Tells other replicas' user caches about changes; in-process only by default. */
  userInvalidations?: InvalidationChannel;
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
  /** Serving status per service, behind grpc.health.v1.Health and /readyz; goes NOT_SERVING when close begins. */
  health: HealthRegistry;
  /** This app's Prometheus registry and metrics, served at /metrics. */
  metrics: ServerMetrics;
  /** Span export, when OTEL_EXPORTER_OTLP_ENDPOINT is set (or deps.tracing given). */
  tracing: Tracing | undefined;
  /** The direct gRPC path in front of the Connect router. */
  fastPath: GrpcFastPath;
  /** The direct Connect unary path for HTTP/1.1. */
  connectFastPath: ConnectFastPath;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), existsSync(new URL("../package.json", import.meta.url)) ? ".." : "../..");

/** The built browser client, served at / when present. */
export function defaultWebRoot(): string {
  return path.join(projectRoot, "web-client", "dist");
}

/** Composes adapters, domain, handlers and the Fastify host; `listen` is left to the caller. */
export async function buildApp(config: Config, deps: AppDeps): Promise<App> {
  useNodeTextEncoding();
  const { logger, bus } = deps;
  const ownTracing =
    deps.tracing === undefined && config.otelExporterOtlpEndpoint !== undefined
      ? createTracing({ endpoint: config.otelExporterOtlpEndpoint, serviceName: config.otelServiceName })
      : undefined;
  const tracing = deps.tracing ?? ownTracing;
  // Storage calls get child spans only when tracing is on; otherwise the adapter is used as is.
  const traced = tracing === undefined ? deps.storage : traceStorage(deps.storage, tracing.tracer);
  // Users are read on every call (auth) and cached; writes invalidate here and, through the channel, on other replicas.
  const storage = withUserCache(traced, {
    invalidations: deps.userInvalidations ?? createLocalInvalidationChannel(),
    onError: (error) => logger.warn({ err: error }, "could not announce a user change to other replicas"),
  });
  const routes = await createRoutes(config, { ...deps, storage });
  const { hub, directory, authenticator, tokens, isPublic } = routes;

  const health = createHealthRegistry({ "": "NOT_SERVING", "user.UserService": "NOT_SERVING", "user.AuthService": "NOT_SERVING" });
  const healthProbe = createHealthProbe({
    registry: health,
    pingStorage: () => storage.ping(),
    busHealthy: () => bus.healthy(),
    busServices: ["user.UserService"],
    storageServices: ["user.AuthService"],
    intervalMs: config.healthCheckIntervalMs,
    timeoutMs: Math.max(1000, config.healthCheckIntervalMs),
    onChange: (serving, reason) =>
      serving ? logger.info("health: SERVING") : logger.error({ reason }, "health: NOT_SERVING (storage does not answer)"),
  });
  await healthProbe.start();
  const metrics = createServerMetrics({
    chatSubscribers: () => hub.subscriberCount(),
    connections: () => server?.connectionCount() ?? { http1: 0, http2: 0 },
  });
  const reflection = createReflectionServices(
    [file_user_user, file_user_auth, file_grpc_health_v1_health],
    ["user.UserService", "user.AuthService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"],
  );

  // Outermost first: the log line and metrics see every outcome, including auth and rate-limit refusals.
  const interceptors = [
    createLoggingInterceptor(logger),
    createMetricsInterceptor(metrics),
    ...(tracing !== undefined ? [createTracingInterceptor(tracing)] : []),
    ...routes.interceptors,
  ];
  const registerAll = (router: ConnectRouter) => {
    routes.register(router);
    router.service(Health, createHealthService(health));
    router.service(ServerReflectionV1, reflection.v1);
    router.service(ServerReflectionV1alpha, reflection.v1alpha);
  };
  const shutdownError = new ConnectError("server is shutting down", Code.Unavailable);
  // Aborted SHUTDOWN_TIMEOUT_MS after close begins, like connect-fastify's own shutdown signal.
  const fastPathShutdown = new AbortController();
  const clientAddress = createClientAddressResolver(config.trustProxy);
  // Hot calls skip Fastify and Connect's generic pipeline; same handlers, same interceptors.
  const fastRoutes = createFastRoutes({ register: registerAll, interceptors });
  const calls = new CallTracker(fastPathShutdown.signal);
  const limits = {
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    maxTimeoutMs: config.maxTimeoutMs > 0 ? config.maxTimeoutMs : Number.POSITIVE_INFINITY,
  };
  const fastPath = createGrpcFastPath({
    routes: fastRoutes,
    calls,
    ...limits,
    contextValues: (stream, headers) =>
      new CallValues().set(clientAddressKey, clientAddress(stream.session?.socket?.remoteAddress, headers["x-forwarded-for"])),
  });
  const connectFastPath = createConnectFastPath({
    routes: fastRoutes,
    calls,
    ...limits,
    contextValues: (req) => new CallValues().set(clientAddressKey, clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"])),
  });

  let server: OnePortServer | undefined;
  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per RPC comes from the logging interceptor, not from Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a load balancer the TCP peer is the balancer; TRUST_PROXY lets X-Forwarded-For name the client.
    trustProxy: config.trustProxy,
    // Connect routes read their own bodies; this limit guards the few plain JSON routes.
    bodyLimit: 1024 * 1024,
    serverFactory: (handler) => {
      server = createOnePortServer(
        {
          tls:
            config.tlsCert !== undefined && config.tlsKey !== undefined
              ? { certFile: config.tlsCert, keyFile: config.tlsKey, clientCaFile: config.tlsClientCa }
              : undefined,
          fastPath,
          connectFastPath,
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
    interceptors,
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    // Connect refuses a longer deadline with INVALID_ARGUMENT over every protocol; 0 means no cap.
    maxTimeoutMs: config.maxTimeoutMs > 0 ? config.maxTimeoutMs : undefined,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    shutdownError,
    contextValues: (req) => createContextValues().set(clientAddressKey, req.ip ?? req.socket.remoteAddress ?? "unknown"),
    routes: registerAll,
  });

  fastify.get("/healthz", async () => ({ status: "ok" }));
  // Ready exactly when the gRPC health of the whole server is SERVING, so HTTP and gRPC probes agree.
  fastify.get("/readyz", async (_req, reply) => {
    if (health.get("") === "SERVING") return { status: "ready" };
    return reply.code(503).send({ status: health.isShutdown ? "shutting down" : "storage unavailable" });
  });

  let metricsListener: MetricsListener | undefined;
  if (config.metricsPort === 0) {
    fastify.get("/metrics", async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  } else {
    fastify.addHook("onReady", async () => {
      metricsListener = await startMetricsListener({ registry: metrics.registry, port: config.metricsPort, host: config.host });
      logger.info({ address: metricsListener.url }, "metrics listening");
    });
  }

  const webRoot = config.webRoot ?? defaultWebRoot();
  if (existsSync(path.join(webRoot, "index.html"))) {
    await fastify.register(fastifyStatic, {
      root: path.resolve(webRoot),
      prefix: "/",
      index: ["index.html"],
      // Vite puts a content hash in every asset name, so they never change; index.html must always be revalidated.
      setHeaders: (res, filePath) => {
        res.setHeader("cache-control", filePath.includes(`${path.sep}assets${path.sep}`) ? "public, max-age=31536000, immutable" : "no-cache");
      },
    });
  }

  fastify.addHook("preClose", (done) => {
    // Health first, so probes stop sending traffic while calls drain.
    healthProbe.stop();
    health.shutdown();
    server?.drain();
    setTimeout(() => fastPathShutdown.abort(shutdownError), config.shutdownTimeoutMs).unref();
    done();
  });
  fastify.addHook("onClose", async () => {
    await hub.close();
    await metricsListener?.close();
    await ownTracing?.shutdown();
  });

  if (server === undefined) throw new Error("fastify did not create the server");
  return { fastify, storage, server, hub, directory, authenticator, tokens, isPublic, health, metrics, tracing, fastPath, connectFastPath };
}
