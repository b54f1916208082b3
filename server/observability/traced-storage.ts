import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { DomainError } from "../domain/errors.js";
import type { Storage } from "../storage/ports.js";

/**
 * Wraps a Storage so that every store method called inside a traced RPC gets
 * a CLIENT child span (users.getById, chat.append, …); calls outside any
 * span, such as the chat hub's background polling, are passed through
 * untouched so they do not start traces of their own.
 */
export function traceStorage(storage: Storage, tracer: Tracer): Storage {
  const dbSystem = storage.engine === "postgres" ? "postgresql" : "sqlite";
  const traced = <T extends object>(port: T, prefix: string): T =>
    new Proxy(port, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== "function" || typeof key !== "string") return value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (trace.getSpan(context.active()) === undefined) return method.apply(target, args);
          return tracer.startActiveSpan(
            `${prefix}.${key}`,
            { kind: SpanKind.CLIENT, attributes: { "db.system.name": dbSystem, "db.operation.name": `${prefix}.${key}` } },
            (span) => settle(span, () => method.apply(target, args)),
          );
        };
      },
    });
  const users = traced(storage.users, "users");
  const chat = traced(storage.chat, "chat");
  // Everything else (engine, ping, close, anything added later) is the adapter's own.
  return new Proxy(storage, {
    get(target, key, receiver) {
      if (key === "users") return users;
      if (key === "chat") return chat;
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Ends the span when the call's result is done: at once, when its promise settles, or when its stream ends. */
function settle(span: Span, call: () => unknown): unknown {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    fail(span, error);
    throw error;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(span, error);
        throw error;
      },
    );
  }
  if (isAsyncIterable(result)) return endAfter(result, span);
  span.end();
  return result;
}

async function* endAfter<T>(source: AsyncIterable<T>, span: Span): AsyncGenerator<T> {
  try {
    yield* source;
    span.end();
  } catch (error) {
    fail(span, error);
    throw error;
  } finally {
    if (span.isRecording()) span.end();
  }
}

/** Marks the span failed, except for the domain's expected outcomes (such as a username clash), which are not storage faults. */
function fail(span: Span, error: unknown): void {
  if (error instanceof DomainError) {
    span.setAttribute("error.type", error.kind);
    span.end();
    return;
  }
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
