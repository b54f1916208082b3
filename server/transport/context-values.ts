import type { ContextKey, ContextValues } from "@connectrpc/connect";

/**
 * Connect's ContextValues with its methods on a prototype: createContextValues()
 * makes three closures per call, and the fast path makes one of these per call.
 */
export class CallValues implements ContextValues {
  [key: symbol]: unknown;

  get<T>(key: ContextKey<T>): T {
    return key.id in this ? (this[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    this[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete this[key.id];
    return this;
  }
}
