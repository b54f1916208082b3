import { Code, ConnectError } from "@connectrpc/connect";
import { BusinessErrorSchema, ValidationErrorSchema } from "../gen/common/error_pb.js";

/** The gRPC name of a status code, as servers, logs and the CLI print it (e.g. "DEADLINE_EXCEEDED"). */
export function codeName(code: Code): string {
  if (code === Code.Canceled) return "CANCELLED";
  const name = Code[code];
  return name === undefined ? `CODE_${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** What to try for each status code: the seed's troubleshooting list, in English, extended to every code. */
export const suggestionsByCode: Readonly<Record<Code, readonly string[]>> = {
  [Code.Canceled]: [
    "The call was cancelled by the client or its connection closed; retry if that was not intended",
    "Check whether a deadline or Ctrl-C ended the call early",
  ],
  [Code.Unknown]: [
    "Check the server logs for the request id",
    "Check that client and server speak the same protocol and version",
    "Contact technical support with the request id",
  ],
  [Code.InvalidArgument]: [
    "Fix the fields listed in the error details",
    "Check the request parameters against the API documentation",
  ],
  [Code.DeadlineExceeded]: [
    "Increase the request timeout (--timeout, timeoutMs)",
    "Check server performance (load, database latency)",
    "Optimize the request (smaller pages, smaller batches)",
  ],
  [Code.NotFound]: ["Check the id or name you asked for", "The user may have been deleted"],
  [Code.AlreadyExists]: [
    "Choose another username or email",
    "If this was a retried create, check whether the first attempt succeeded",
  ],
  [Code.PermissionDenied]: [
    "Check the user's permissions",
    "Verify the role configuration (some operations need the admin role)",
    "Confirm access rights to the resource",
  ],
  [Code.ResourceExhausted]: [
    "Slow down: wait as long as the retry-after header says, then retry",
    "Reduce the request rate or the batch size",
    "Check the message size limit (MAX_MESSAGE_BYTES)",
  ],
  [Code.FailedPrecondition]: [
    "The system is not in the state the operation needs (e.g. the account is suspended)",
    "Fix that state first; retrying unchanged will fail again",
  ],
  [Code.Aborted]: ["The operation conflicted with a concurrent one; retry the whole operation"],
  [Code.OutOfRange]: ["Check the page number or offset against the size of the data"],
  [Code.Unimplemented]: [
    "Check that the server version supports this method",
    "Check the protocol (--protocol, USERS_PROTOCOL) and the URL",
    "Make sure the address points at this service and not at a proxy or another server",
  ],
  [Code.Internal]: [
    "Check the server logs for the request id",
    "Report the request id to the service owners; retrying rarely helps",
  ],
  [Code.Unavailable]: [
    "Check that the server is running",
    "Verify the network connection (address, port, DNS)",
    "Check firewall settings",
    "Retry later with backoff; idempotent calls are retried automatically",
  ],
  [Code.DataLoss]: ["Unrecoverable data loss or corruption: contact the service owners at once", "Check the server logs"],
  [Code.Unauthenticated]: [
    "Check the authentication token",
    "Verify that the token has not expired (log in again, or refresh it)",
    "Confirm the authentication configuration (USERS_TOKEN, or USERS_USERNAME and USERS_PASSWORD)",
  ],
};

/** One failed field of a request, from common.ValidationError. */
export interface FieldViolation {
  field: string;
  code: string;
  message: string;
}

/** A failed call taken apart for people and scripts. */
export interface ErrorExplanation {
  /** The gRPC code name, e.g. "UNAVAILABLE". */
  code: string;
  codeNumber: number;
  /** The server's message, without the "[code]" prefix. */
  message: string;
  /** The server's request id, to find the call in its logs. */
  requestId?: string;
  /** Seconds the server asked the client to wait (retry-after). */
  retryAfterSeconds?: number;
  /** Every failed field, when the request was invalid. */
  violations: FieldViolation[];
  /** The machine-readable reason from common.BusinessError, e.g. "USERNAME_TAKEN". */
  reason?: string;
  suggestions: string[];
}

/** Explains any thrown value as a failed call: code, message, details and what to try. */
export function explainError(error: unknown): ErrorExplanation {
  const ce = ConnectError.from(error);
  const explanation: ErrorExplanation = {
    code: codeName(ce.code),
    codeNumber: ce.code,
    message: ce.rawMessage,
    violations: [],
    suggestions: [...(suggestionsByCode[ce.code] ?? suggestionsByCode[Code.Unknown])],
  };
  const requestId = ce.metadata.get("x-request-id");
  if (requestId !== null) explanation.requestId = requestId;
  const retryAfter = Number(ce.metadata.get("retry-after") ?? "");
  if (Number.isFinite(retryAfter) && retryAfter > 0) explanation.retryAfterSeconds = retryAfter;
  for (const validation of ce.findDetails(ValidationErrorSchema)) {
    for (const e of validation.errors) explanation.violations.push({ field: e.field, code: e.code, message: e.message });
  }
  const business = ce.findDetails(BusinessErrorSchema)[0];
  if (business !== undefined && business.errorCode !== "") explanation.reason = business.errorCode;
  return explanation;
}

/** The explanation as lines for a terminal: first "CODE: message", then details and hints. */
export function formatExplanation(explanation: ErrorExplanation): string[] {
  const lines = [`${explanation.code}: ${explanation.message}`];
  for (const v of explanation.violations) lines.push(`  field ${v.field}: ${v.message} (${v.code})`);
  if (explanation.reason !== undefined) lines.push(`  reason: ${explanation.reason}`);
  if (explanation.retryAfterSeconds !== undefined) lines.push(`  retry after: ${explanation.retryAfterSeconds} s`);
  if (explanation.requestId !== undefined) lines.push(`  request id: ${explanation.requestId}`);
  for (const s of explanation.suggestions) lines.push(`  hint: ${s}`);
  return lines;
}
