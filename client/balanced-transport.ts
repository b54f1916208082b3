import type { DescMessage, DescMethod, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type Interceptor, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { openBackendConnection, type BackendConnection, type ConnectionOptions } from "./backend-connection.js";
import { BackendPool, defaultEjection, type BackendAddress, type BackendState, type BackendStatus, type EjectionOptions } from "./backend-pool.js";
import type { BalancerStrategyName } from "./balancer-strategy.js";
import { defaultHealthWatchOptions, watchHealth, type HealthWatchOptions } from "./health-watcher.js";
import { createReplayableInput } from "./replayable-input.js";
import { backoffDelayMs, mayRetry, type RetryPolicy } from "./retry-policy.js";
import { sleep } from "./sleep.js";
import { classifyFailure, type AttemptFailure } from "./transport-failure.js";

export interface BalancedTransportOptions {
  backends: readonly BackendAddress[];
  strategy: BalancerStrategyName;
  connection: ConnectionOptions;
  /** Run on every attempt, innermost last (auth, debug logging, …). */
  interceptors: Interceptor[];
  retry: RetryPolicy;
  /** Deadline of a call that sets none; 0 means none. Retries share the one deadline. */
  defaultTimeoutMs: number;
  /** Procedures ("pkg.Service/Method") that stay open for long and get no default deadline. */
  longLivedProcedures: ReadonlySet<string>;
  /** grpc.health.v1 checking of every backend; false relies on failed calls alone. */
  health: HealthWatchOptions | false;
  ejection?: EjectionOptions;
  /** Request-stream items remembered so a refused stream can be sent again. */
  maxReplayItems?: number;
  /** Told when a backend's health changes, e.g. to log it. */
  onHealthChange?: (status: BackendStatus) => void;
  random?: () => number;
}

/** A Transport that spreads calls over backends, retries safely, and can report and close its connections. */
export interface BalancedTransport extends Transport {
  status(): BackendStatus[];
  /** Stops health checks and closes every connection. */
  close(): void;
}

interface Backend {
  state: BackendState;
  connection: BackendConnection;
}

function procedureOf(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/**
 * The client's transport: picks a backend per attempt with the chosen
 * strategy, watches backend health, applies the default deadline, and
 * retries UNAVAILABLE only where a second attempt cannot duplicate an effect
 * (see retry-policy.ts), moving at once to another healthy backend.
 */
export function createBalancedTransport(options: BalancedTransportOptions): BalancedTransport {
  const pool = new BackendPool(options.backends, options.strategy, options.ejection ?? defaultEjection, Date.now, options.random);
  const backends = new Map<BackendState, Backend>();
  for (const state of pool.backends) {
    backends.set(state, { state, connection: openBackendConnection(state.url, options.connection, options.interceptors) });
  }
  const lifetime = new AbortController();
  if (options.health !== false) {
    const healthOptions = { ...defaultHealthWatchOptions, ...options.health };
    for (const backend of backends.values()) {
      void watchHealth(
        backend.connection.bareTransport,
        healthOptions,
        (health, detail) => {
          const before = backend.state.health;
          pool.setHealth(backend.state, health, detail);
          if (before !== health) {
            const status = pool.status().find((s) => s.url === backend.state.url);
            if (status !== undefined) options.onHealthChange?.(status);
          }
        },
        lifetime.signal,
      );
    }
  }
  const maxReplayItems = options.maxReplayItems ?? 1000;

  function timeoutFor(method: DescMethod, timeoutMs: number | undefined): number | undefined {
    const chosen = timeoutMs ?? (options.longLivedProcedures.has(procedureOf(method)) ? 0 : options.defaultTimeoutMs);
    return chosen > 0 ? chosen : undefined;
  }

  /** Runs attempts until one succeeds or retrying would be unsafe, pointless or past the deadline. */
  async function withRetries<R>(
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    attemptOn: (backend: Backend, remainingMs: number | undefined) => Promise<R>,
    extraGuard: () => boolean = () => true,
  ): Promise<{ result: R; backend: Backend }> {
    const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const tried = new Set<BackendState>();
    let lastFailure: AttemptFailure | undefined;
    for (let attempt = 1; ; attempt++) {
      if (lifetime.signal.aborted) throw new ConnectError("client is closed", Code.Canceled);
      const remainingMs = deadlineAt === undefined ? undefined : deadlineAt - Date.now();
      if (remainingMs !== undefined && remainingMs <= 0) {
        throw lastFailure?.error ?? new ConnectError("the deadline passed before the call was sent", Code.DeadlineExceeded);
      }
      const state = pool.pick(tried);
      const backend = backends.get(state) as Backend;
      state.attempts++;
      try {
        const result = await attemptOn(backend, remainingMs);
        pool.recordSuccess(state);
        return { result, backend };
      } catch (reason) {
        const failure = classifyFailure(reason, signal);
        pool.recordFailure(state, failure.connectionFailed, failure.error.message);
        lastFailure = failure;
        tried.add(state);
        if (attempt >= options.retry.maxAttempts || !mayRetry(method, failure) || !extraGuard()) throw failure.error;
        // Another healthy backend is tried at once; the same one (or none better) only after a backoff.
        if (!pool.hasUntried(tried)) {
          const delayMs = backoffDelayMs(attempt, options.retry, options.random);
          if (deadlineAt !== undefined && Date.now() + delayMs >= deadlineAt) throw failure.error;
          await sleep(delayMs, signal);
          if (signal?.aborted === true) throw new ConnectError("the call was cancelled", Code.Canceled);
        }
      }
    }
  }

  /** Reports failures while reading a response stream the way attempts do, and ejects a backend that dropped. */
  async function* watchedMessages<T>(messages: AsyncIterable<T>, backend: Backend, signal: AbortSignal | undefined): AsyncIterable<T> {
    try {
      yield* messages;
    } catch (reason) {
      const failure = classifyFailure(reason, signal);
      pool.recordFailure(backend.state, failure.connectionFailed, failure.error.message);
      throw failure.error;
    }
  }

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const { result } = await withRetries(method, signal, timeoutFor(method, timeoutMs), (backend, remainingMs) =>
        backend.connection.transport.unary(method, signal, remainingMs, header, input, contextValues),
      );
      return result;
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const replay = createReplayableInput(input, maxReplayItems);
      try {
        const { result, backend } = await withRetries(
          method,
          signal,
          timeoutFor(method, timeoutMs),
          (b, remainingMs) => b.connection.transport.stream(method, signal, remainingMs, header, replay.attempt(), contextValues),
          () => replay.replayable,
        );
        replay.seal();
        return { ...result, message: watchedMessages(result.message, backend, signal) };
      } catch (error) {
        await replay.close();
        throw error;
      }
    },

    status: () => pool.status(),

    close() {
      lifetime.abort();
      for (const backend of backends.values()) backend.connection.close();
    },
  };
}
