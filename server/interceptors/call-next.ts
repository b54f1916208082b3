import type { StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";

type AnyNext = (req: UnaryRequest & StreamRequest) => Promise<UnaryResponse | StreamResponse>;

/**
 * Calls the next step of an interceptor chain and always returns a promise,
 * also when that step throws before returning one. Interceptors written
 * without `async` use it on their hot unary path: an async frame per
 * interceptor per call showed up in allocation profiles.
 */
export function callNext<R>(next: (req: never) => Promise<R>, req: UnaryRequest | StreamRequest): Promise<R> {
  try {
    return (next as unknown as AnyNext)(req as UnaryRequest & StreamRequest) as Promise<R>;
  } catch (error) {
    return Promise.reject(error);
  }
}
