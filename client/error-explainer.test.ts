import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BusinessErrorSchema, ErrorDetailSchema, ValidationErrorSchema } from "../gen/common/error_pb.js";
import { codeName, explainError, formatExplanation, suggestionsByCode } from "./error-explainer.js";

const allCodes = Object.values(Code).filter((c): c is Code => typeof c === "number");

describe("codeName", () => {
  it("spells every code the gRPC way", () => {
    expect(allCodes.map(codeName)).toEqual([
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
    ]);
  });
});

describe("explainError", () => {
  it("has suggestions of its own for every code", () => {
    const seen = new Set<string>();
    for (const code of allCodes) {
      const suggestions = explainError(new ConnectError("x", code)).suggestions;
      expect(suggestions.length).toBeGreaterThan(0);
      seen.add(suggestions.join("|"));
    }
    expect(seen.size).toBe(allCodes.length);
    expect(Object.keys(suggestionsByCode)).toHaveLength(allCodes.length);
  });

  it("keeps the seed's advice for the codes the seed lists", () => {
    expect(explainError(new ConnectError("x", Code.Unavailable)).suggestions.slice(0, 3)).toEqual([
      "Check that the server is running",
      "Verify the network connection (address, port, DNS)",
      "Check firewall settings",
    ]);
    expect(explainError(new ConnectError("x", Code.DeadlineExceeded)).suggestions[0]).toMatch(/^Increase the request timeout/);
    expect(explainError(new ConnectError("x", Code.PermissionDenied)).suggestions[0]).toBe("Check the user's permissions");
  });

  it("reads field violations, the business reason, retry-after and the request id", () => {
    const metadata = new Headers({ "x-request-id": "req-42", "retry-after": "7" });
    const error = new ConnectError("validation failed", Code.InvalidArgument, metadata, [
      {
        desc: ValidationErrorSchema,
        value: create(ValidationErrorSchema, {
          errors: [create(ErrorDetailSchema, { field: "email", code: "INVALID_FORMAT", message: "must be an email address" })],
        }),
      },
      { desc: BusinessErrorSchema, value: create(BusinessErrorSchema, { errorCode: "VALIDATION_FAILED", errorMessage: "x" }) },
    ]);
    const explained = explainError(error);
    expect(explained).toMatchObject({
      code: "INVALID_ARGUMENT",
      codeNumber: 3,
      message: "validation failed",
      requestId: "req-42",
      retryAfterSeconds: 7,
      reason: "VALIDATION_FAILED",
      violations: [{ field: "email", code: "INVALID_FORMAT", message: "must be an email address" }],
    });
    const lines = formatExplanation(explained);
    expect(lines[0]).toBe("INVALID_ARGUMENT: validation failed");
    expect(lines).toContain("  field email: must be an email address (INVALID_FORMAT)");
    expect(lines).toContain("  request id: req-42");
  });

  it("explains anything thrown, not only ConnectErrors", () => {
    expect(explainError(new Error("boom"))).toMatchObject({ code: "UNKNOWN", message: "boom" });
  });
});
