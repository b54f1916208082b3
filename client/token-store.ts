import type { Interceptor } from "@connectrpc/connect";

/** The bearer token a client sends; login() and refresh() replace it. */
export interface TokenStore {
  get(): string | undefined;
  set(token: string | undefined): void;
}

export function createTokenStore(initial?: string): TokenStore {
  let token = initial === "" ? undefined : initial;
  return {
    get: () => token,
    set(next) {
      token = next === "" ? undefined : next;
    },
  };
}

/** Adds `authorization: Bearer …` from the store to every call that does not set its own, read at call time so a new login applies at once. */
export function createBearerInterceptor(store: TokenStore): Interceptor {
  return (next) => async (req) => {
    const token = store.get();
    if (token !== undefined && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
