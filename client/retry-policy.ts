import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { AttemptFailure } from "./transport-failure.js";

/** How often and how patiently a call is retried; only UNAVAILABLE is ever retried. */
export interface RetryPolicy {
  /** Attempts in total, the first one included; 1 turns retries off. */
  maxAttempts: number;
  /** Pause before the first retry. */
  initialBackoffMs: number;
  /** Upper bound of the pause before any retry. */
  maxBackoffMs: number;
  /** Growth of the pause from one retry to the next. */
  multiplier: number;
  /** Spread of each pause, as a fraction (0.2 = ±20%), so that clients that failed together do not retry together. */
  jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  multiplier: 2,
  jitter: 0.2,
};

/** The pause before retry number `retry` (1 for the first retry), with jitter drawn from `random` in [0, 1). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** Math.max(0, retry - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}

/**
 * Reads the proto does not mark NO_SIDE_EFFECTS (ListUsers and SubscribeChat
 * stream, and the health Check comes from the standard proto), yet repeating
 * them cannot change anything.
 */
export const readOnlyProcedures: ReadonlySet<string> = new Set([
  "user.UserService/ListUsers",
  "user.UserService/SubscribeChat",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
  "grpc.health.v1.Health/List",
]);

type MethodInfo = Pick<DescMethod, "idempotency" | "name"> & { parent: Pick<DescMethod["parent"], "typeName"> };

/** True for methods free of side effects or idempotent (by the proto, or read-only by nature), which may be sent again. */
export function isIdempotent(method: MethodInfo): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    readOnlyProcedures.has(`${method.parent.typeName}/${method.name}`)
  );
}

/**
 * Whether a failed attempt may be sent again: only UNAVAILABLE, and only when
 * repeating cannot duplicate an effect — the method is idempotent, or the
 * request provably never reached a server.
 */
export function mayRetry(method: MethodInfo, failure: AttemptFailure): boolean {
  if (failure.error.code !== Code.Unavailable) return false;
  return failure.notSent || isIdempotent(method);
}
