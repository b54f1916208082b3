import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BusinessErrorSchema, ErrorDetailSchema, ValidationErrorSchema } from "../gen/common/error_pb.js";
import { DomainError, type ErrorKind } from "./domain/errors.js";

const codes: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  cancelled: Code.Canceled,
};

/** The message of every unexpected failure; details stay in the server log. */
export const INTERNAL_MESSAGE = "internal error";

/**
 * Turns anything thrown by a handler into the ConnectError the caller sees:
 * domain errors keep their code and carry common.ValidationError /
 * common.BusinessError details; anything unexpected becomes INTERNAL with a
 * generic message and the request id, never a stack, SQL or path.
 */
export function toConnectError(error: unknown, requestId: string): ConnectError {
  if (error instanceof DomainError) {
    const details = [];
    const violations = error.details.violations ?? [];
    if (violations.length > 0) {
      details.push({
        desc: ValidationErrorSchema,
        value: create(ValidationErrorSchema, {
          errors: violations.map((v) => create(ErrorDetailSchema, { code: v.code, message: v.message, field: v.field })),
        }),
      });
    }
    if (error.details.reason !== undefined) {
      details.push({
        desc: BusinessErrorSchema,
        value: create(BusinessErrorSchema, {
          errorCode: error.details.reason,
          errorMessage: error.message,
          context: error.details.context ?? {},
        }),
      });
    }
    const metadata = new Headers();
    if (error.details.retryAfterMs !== undefined) {
      metadata.set("retry-after", String(Math.ceil(error.details.retryAfterMs / 1000)));
    }
    return new ConnectError(error.message, codes[error.kind], metadata, details);
  }
  if (error instanceof ConnectError) return error;
  return new ConnectError(`${INTERNAL_MESSAGE} (request id ${requestId})`, Code.Internal);
}

/** True when a failure is the server's fault and must be logged with its stack. */
export function isUnexpected(error: unknown): boolean {
  return !(error instanceof DomainError) && !(error instanceof ConnectError);
}
