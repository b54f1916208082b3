import { Code, ConnectError } from "@connectrpc/connect";
import { BusinessErrorSchema, ValidationErrorSchema } from "../../gen/common/error_pb.js";

/** What a person should read about a failed call: one sentence, and the message per form field when the server named fields. */
export interface ErrorText {
  message: string;
  /** Proto field name (e.g. "email") to its message (e.g. "is not a valid email address"). */
  fields: Map<string, string>;
  code: Code | undefined;
}

/** Codes whose server text means little to a person; everything else is shown as the server wrote it. */
const byCode: Partial<Record<Code, string>> = {
  [Code.Unavailable]: "The server cannot be reached right now. Try again in a moment.",
  [Code.DeadlineExceeded]: "The server took too long to answer. Try again.",
  [Code.Canceled]: "The request was cancelled.",
  [Code.Unknown]: "Something went wrong. Try again later.",
};

/** Turns any thrown value into readable text, using the server's ValidationError and BusinessError details. */
export function errorText(error: unknown): ErrorText {
  if (!(error instanceof ConnectError)) {
    return { message: error instanceof Error ? error.message : String(error), fields: new Map(), code: undefined };
  }
  const fields = new Map<string, string>();
  for (const detail of error.findDetails(ValidationErrorSchema)) {
    for (const e of detail.errors) {
      const previous = fields.get(e.field);
      fields.set(e.field, previous === undefined ? e.message : `${previous}; ${e.message}`);
    }
  }
  if (fields.size > 0) {
    const list = [...fields].map(([field, message]) => fieldSentence(field, message)).join("; ");
    return { message: `Please check: ${list}.`, fields, code: error.code };
  }
  const friendly = byCode[error.code];
  if (friendly !== undefined) return { message: friendly, fields, code: error.code };
  // INTERNAL carries only "internal error (request id …)", which helps a person report it.
  const business = error.findDetails(BusinessErrorSchema)[0];
  const message = sentence(business?.errorMessage || error.rawMessage) || "The request failed.";
  return { message, fields, code: error.code };
}

/** "email is not a valid email address"; a message that already names its field ("username already exists") is kept as is. */
export function fieldSentence(field: string, message: string): string {
  const label = field.replace(/_/g, " ");
  return message.toLowerCase().startsWith(label) ? message : `${label} ${message}`;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return "";
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
