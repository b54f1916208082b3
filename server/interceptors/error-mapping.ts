import { randomUUID } from "node:crypto";
import type { Interceptor, StreamResponse, UnaryResponse } from "@connectrpc/connect";
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
  return (next) => async (req) => {
    let requestId = req.contextValues.get(requestIdKey);
    if (requestId === "") {
      requestId = requestIdFrom(req.header.get(REQUEST_ID));
      req.contextValues.set(requestIdKey, requestId);
    }
    const fail = (error: unknown): never => {
      if (isUnexpected(error)) onUnexpected(error, requestId, req.url);
      const mapped = toConnectError(error, requestId);
      mapped.metadata.set(REQUEST_ID, requestId);
      throw mapped;
    };
    let res: UnaryResponse | StreamResponse;
    try {
      res = await next(req);
    } catch (error) {
      return fail(error);
    }
    res.header.set(REQUEST_ID, requestId);
    if (!res.stream) return res;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (error) {
          fail(error);
        }
      })(),
    } as typeof res;
  };
}
