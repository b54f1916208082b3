import { describe, expect, it } from "vitest";
import { DomainError } from "../../domain/errors.js";
import { isConnectionError } from "./connection-errors.js";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isConnectionError", () => {
  it("recognises socket failures, including Node's happy-eyeballs AggregateError", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"]) {
      expect(isConnectionError(withCode(code))).toBe(true);
    }
    expect(isConnectionError(new AggregateError([withCode("ECONNREFUSED"), withCode("ECONNREFUSED")], ""))).toBe(true);
  });

  it("recognises SQLSTATEs of a server that cannot serve now: class 08, shutdowns, too many connections", () => {
    for (const code of ["08000", "08003", "08006", "08001", "57P01", "57P02", "57P03", "53300"]) {
      expect(isConnectionError(withCode(code))).toBe(true);
    }
  });

  it("recognises pg and pg-pool messages that carry no code", () => {
    for (const message of [
      "timeout exceeded when trying to connect",
      "Connection terminated unexpectedly",
      "Connection terminated due to connection timeout",
      "Client has encountered a connection error and is not queryable",
    ]) {
      expect(isConnectionError(new Error(message))).toBe(true);
    }
  });

  it("leaves query mistakes, constraint violations and domain errors alone", () => {
    for (const code of ["23505", "42P01", "42601", "22P02", "40001"]) expect(isConnectionError(withCode(code))).toBe(false);
    expect(isConnectionError(new Error("syntax error at or near"))).toBe(false);
    expect(isConnectionError(new DomainError("already_exists", "username already exists"))).toBe(false);
    expect(isConnectionError("ECONNREFUSED")).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });
});
