import { ConnectError, type Interceptor, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { callNext } from "./call-next.js";

/** Rejects when the signal aborts, with the reason Connect gave it (DEADLINE_EXCEEDED for a passed deadline). */
function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(ConnectError.from(signal.reason));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => onAbort !== undefined && signal.removeEventListener("abort", onAbort) };
}

/** Waits for `work`, but fails as soon as the signal aborts; a late failure of `work` is then ignored. */
async function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = whenAborted(signal);
  work.catch(() => {});
  try {
    return await Promise.race([work, aborted.promise]);
  } finally {
    aborted.dispose();
  }
}

/**
 * Connect aborts the handler's signal when the caller's deadline passes, but
 * still waits for the handler and then answers OK. This makes the caller get
 * DEADLINE_EXCEEDED on time: a unary call (or the wait for a stream's next
 * message) fails the moment the signal aborts, and handlers that watch the
 * signal (storage streams, chat) stop their work.
 */
export function createDeadlineInterceptor(): Interceptor {
  const withDeadline = async (next: (req: never) => Promise<UnaryResponse | StreamResponse>, req: UnaryRequest | StreamRequest) => {
    const res: UnaryResponse | StreamResponse = await raceSignal(callNext(next, req), req.signal);
    if (!res.stream) return res;
    const signal = req.signal;
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        const it = messages[Symbol.asyncIterator]();
        // One abort listener for the whole stream, not one per message.
        const aborted = whenAborted(signal);
        aborted.promise.catch(() => {});
        try {
          for (;;) {
            const next = it.next();
            // If the abort wins, a later failure of this step must not surface as an unhandled rejection.
            next.catch(() => {});
            const step = await Promise.race([next, aborted.promise]);
            if (step.done === true) return;
            yield step.value;
          }
        } finally {
          aborted.dispose();
          // Lets the handler's finally blocks run (closing cursors, leaving the chat hub) once it is free to.
          void it.return?.()?.catch(() => {});
        }
      })(),
    } as typeof res;
  };
  return (next) => (req) => {
    // A unary call without a deadline has nothing to race: watching its signal would only cost a listener per call.
    if (!req.stream && req.header.get("grpc-timeout") === null && req.header.get("connect-timeout-ms") === null) return callNext(next, req);
    return withDeadline(next, req) as ReturnType<typeof next>;
  };
}
