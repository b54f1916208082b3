/** What went wrong, in the domain's words; one module maps these to RPC status codes. */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "failed_precondition"
  | "unavailable"
  | "deadline_exceeded"
  | "cancelled";

/** One failing field of a request, reported together with all the others. */
export interface FieldViolation {
  field: string;
  /** A machine-readable reason, e.g. REQUIRED, TOO_SHORT, INVALID_FORMAT. */
  code: string;
  message: string;
}

/** An expected failure; anything else that is thrown becomes INTERNAL. */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: {
      violations?: FieldViolation[];
      /** A stable business reason, e.g. USERNAME_TAKEN. */
      reason?: string;
      context?: Record<string, string>;
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/** A request with one or more invalid fields; lists every violation. */
export function invalidArgument(violations: FieldViolation[], message?: string): DomainError {
  const text = message ?? `invalid request: ${violations.map((v) => `${v.field}: ${v.message}`).join("; ")}`;
  return new DomainError("invalid_argument", text, { violations, reason: "VALIDATION_FAILED" });
}

export function notFound(what: string, context: Record<string, string> = {}): DomainError {
  return new DomainError("not_found", `${what} not found`, { reason: "NOT_FOUND", context });
}

export function alreadyExists(field: "username" | "email"): DomainError {
  return new DomainError("already_exists", `${field} already exists`, {
    reason: field === "username" ? "USERNAME_TAKEN" : "EMAIL_TAKEN",
    context: { field },
    violations: [{ field, code: "ALREADY_EXISTS", message: `${field} already exists` }],
  });
}

export function permissionDenied(message: string): DomainError {
  return new DomainError("permission_denied", message, { reason: "PERMISSION_DENIED" });
}

export function unauthenticated(message = "authentication required"): DomainError {
  return new DomainError("unauthenticated", message, { reason: "UNAUTHENTICATED" });
}

export function resourceExhausted(message: string, retryAfterMs?: number): DomainError {
  return new DomainError("resource_exhausted", message, {
    reason: "RESOURCE_EXHAUSTED",
    ...(retryAfterMs === undefined ? {} : { retryAfterMs, context: { retry_after_ms: String(retryAfterMs) } }),
  });
}

export function unavailable(message: string): DomainError {
  return new DomainError("unavailable", message, { reason: "UNAVAILABLE" });
}
