import type { Interceptor } from "@connectrpc/connect";
import { unauthenticated } from "../domain/errors.js";
import type { Authenticator } from "../domain/authenticator.js";
import { callNext } from "./call-next.js";
import { principalKey } from "./context-keys.js";

export interface AuthInterceptorOptions {
  authenticator: Pick<Authenticator, "principalFromToken">;
  /** Procedures callable without a token, as "package.Service/Method". */
  isPublic: (procedure: string) => boolean;
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/i;

/**
 * Verifies `authorization: Bearer …` (gRPC metadata and HTTP headers alike)
 * and puts the caller into the context values. A token that is present is
 * always checked, even on public procedures, so a bad token never passes silently.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions): Interceptor {
  return (next) => (req) => {
    const header = req.header.get("authorization");
    if (header === null || header === "") {
      if (!options.isPublic(`${req.service.typeName}/${req.method.name}`)) {
        return Promise.reject(unauthenticated("missing bearer token"));
      }
      return callNext(next, req);
    }
    const match = BEARER.exec(header.trim());
    if (match === null || match[1] === undefined) return Promise.reject(unauthenticated("authorization header must be \"Bearer <token>\""));
    return options.authenticator.principalFromToken(match[1]).then((principal) => {
      req.contextValues.set(principalKey, principal);
      return next(req);
    });
  };
}
