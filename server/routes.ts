import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { AuthService } from "../gen/user/auth_pb.js";
import { UserService } from "../gen/user/user_pb.js";
import { ensureInitialAccounts } from "./bootstrap.js";
import { createChatHub, type ChatHub } from "./chat/chat-hub.js";
import type { Config } from "./config.js";
import { createAuthenticator, type Authenticator } from "./domain/authenticator.js";
import { createUserDirectory, type UserDirectory } from "./domain/user-directory.js";
import { createAuthInterceptor } from "./interceptors/auth.js";
import { createDeadlineInterceptor } from "./interceptors/deadline.js";
import { createErrorMappingInterceptor } from "./interceptors/error-mapping.js";
import { createCallLimiter, createRateLimitInterceptor } from "./interceptors/rate-limit.js";
import { createLoginThrottle } from "./security/login-throttle.js";
import { createTokenService, type TokenService } from "./security/token-service.js";
import { createAuthService } from "./services/auth-service.js";
import { createUserService } from "./services/user-service.js";
import type { AppDeps } from "./app.js";

/** Everything the RPC layer is made of, independent of the HTTP host that serves it. */
export interface Routes {
  /** Registers every service on a Connect router. */
  register: (router: ConnectRouter) => void;
  /** Interceptors, outermost first. */
  interceptors: Interceptor[];
  hub: ChatHub;
  directory: UserDirectory;
  authenticator: Authenticator;
  tokens: TokenService;
  /** Procedures callable without a token, as "package.Service/Method". */
  isPublic: (procedure: string) => boolean;
}

/**
 * Wires adapters into the domain, handlers and interceptors. The Fastify
 * host mounts the result; tests mount it on createRouterTransport instead.
 */
export async function createRoutes(config: Config, deps: AppDeps): Promise<Routes> {
  const { storage, hasher, clock, bus, logger } = deps;
  const tokens = createTokenService({
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.jwtTtlSeconds,
    clock,
    onGeneratedSecret: () =>
      logger.warn("JWT_SECRET is not set: using a random secret for this process; tokens end with it and do not work across replicas"),
  });
  const throttle =
    deps.loginThrottle ?? createLoginThrottle({ maxFailures: config.loginMaxFailures, windowSeconds: config.loginWindowSeconds });
  const directory = createUserDirectory({ users: storage.users, hasher, clock, allowSignup: config.allowSignup });
  const authenticator = createAuthenticator({ users: storage.users, hasher, tokens, throttle });
  const hub = createChatHub({
    chat: storage.chat,
    users: storage.users,
    bus,
    clock,
    queueLimit: config.chatQueueLimit,
    onError: (error) => logger.error({ err: error }, "chat fan-out failed; will retry"),
  });
  await hub.start();
  await ensureInitialAccounts({ config, users: storage.users, hasher, clock, logger });

  const publicProcedures = new Set(["user.AuthService/Login"]);
  if (config.allowSignup) publicProcedures.add("user.UserService/CreateUser");
  const isPublic = (procedure: string) => publicProcedures.has(procedure) || procedure.startsWith("grpc.");

  const reportUnexpected = (error: unknown, requestId: string, procedure: string) =>
    logger.error({ err: error, requestId, procedure }, "handler failed unexpectedly");
  const interceptors: Interceptor[] = [
    ...(deps.outerInterceptors ?? []),
    createErrorMappingInterceptor(reportUnexpected),
    createDeadlineInterceptor(),
    createAuthInterceptor({ authenticator, isPublic }),
    ...(config.rateLimitPerMinute > 0
      ? [
          createRateLimitInterceptor({
            limiter: deps.callLimiter ?? createCallLimiter({ perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst }),
            onStoreError: (error) => logger.warn({ err: error }, "rate limiter store failed; letting the call through"),
          }),
        ]
      : []),
    ...(deps.innerInterceptors ?? []),
  ];

  const register = (router: ConnectRouter) => {
    router.service(
      UserService,
      createUserService({
        directory,
        hub,
        chatKeepaliveMs: config.chatKeepaliveMs,
        onUnexpected: (error) => logger.error({ err: error }, "batch item failed unexpectedly"),
      }),
    );
    router.service(AuthService, createAuthService({ authenticator, directory }));
    deps.extraRoutes?.(router);
  };

  return { register, interceptors, hub, directory, authenticator, tokens, isPublic };
}
