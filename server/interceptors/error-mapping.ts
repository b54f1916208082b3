import { randomUUID } from "node:crypto";
import type { ConnectError, Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { callNext } from "./call-next.js";
import { isUnexpected, toConnectError } from "../errors.js";
import { requestIdKey } from "./context-keys.js";

const REQUEST_ID = "x-request-id";
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's request id only when it is short and cannot forge log lines or headers. */
export function requestIdFrom(header: string | null): string {
  return header !== null && requestIdPattern.test(header) ? header : randomUUID();
}

/**
 * The innermost interceptor: gives the call its request id, echoes it, and
 * turns every failure into the ConnectError the caller may see, reporting
 * unexpected ones (with stack) through onUnexpected.
 */
export function createErrorMappingInterceptor(onUnexpected: (error: unknown, requestId: string, procedure: string) => void): Interceptor {
  /** The ConnectError the caller sees for a failure, with the request id; unexpected ones are reported first. */
  const mapped = (error: unknown, requestId: string, req: UnaryRequest | StreamRequest): ConnectError => {
    if (isUnexpected(error)) onUnexpected(error, requestId, req.url);
    const result = toConnectError(error, requestId);
    result.metadata.set(REQUEST_ID, requestId);
    return result;
  };
  return (next) => (req) => {
    let requestId = req.contextValues.get(requestIdKey);
    if (requestId === "") {
      requestId = requestIdFrom(req.header.get(REQUEST_ID));
      req.contextValues.set(requestIdKey, requestId);
    }
    const id = requestId;
    return callNext(next, req).then(
      (res: UnaryResponse | StreamResponse) => {
        res.header.set(REQUEST_ID, id);
        if (!res.stream) return res;
        const messages = res.message;
        return {
          ...res,
          message: (async function* () {
            try {
              yield* messages;
            } catch (error) {
              throw mapped(error, id, req);
            }
          })(),
        } as typeof res;
      },
      (error: unknown) => {
        throw mapped(error, id, req);
      },
    ) as ReturnType<typeof next>;
  };
}
