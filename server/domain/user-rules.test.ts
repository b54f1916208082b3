import { describe, expect, it } from "vitest";
import { DomainError } from "./errors.js";
import { parseUserQuery, validateNewUser, validateUserChange, type NewUserInput } from "./user-rules.js";

const valid: NewUserInput = {
  username: "alice",
  email: "alice@example.com",
  password: "correct horse",
  fullName: "Alice",
  avatarUrl: "",
  roles: [],
  metadata: {},
};

function violations(fn: () => void): { field: string; code: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    const e = error as DomainError;
    expect(e.kind).toBe("invalid_argument");
    return (e.details.violations ?? []).map(({ field, code }) => ({ field, code }));
  }
  throw new Error("expected a validation failure");
}

describe("validateNewUser", () => {
  it("accepts a valid user", () => {
    expect(() => validateNewUser(valid)).not.toThrow();
  });

  it("lists every failing field, not just the first", () => {
    expect(violations(() => validateNewUser({ ...valid, username: "", email: "nope", password: "short" }))).toEqual([
      { field: "username", code: "REQUIRED" },
      { field: "email", code: "INVALID_FORMAT" },
      { field: "password", code: "TOO_SHORT" },
    ]);
  });

  it.each([
    ["ab", "INVALID_LENGTH"],
    ["a".repeat(33), "INVALID_LENGTH"],
    ["bad name", "INVALID_FORMAT"],
    ["ümlaut", "INVALID_FORMAT"],
  ])("rejects username %j with %s", (username, code) => {
    expect(violations(() => validateNewUser({ ...valid, username }))).toEqual([{ field: "username", code }]);
  });

  it("accepts upper case usernames, which are stored in lower case", () => {
    expect(() => validateNewUser({ ...valid, username: "Alice.B-2_x" })).not.toThrow();
  });

  it("measures passwords in bytes and refuses more than 72 rather than truncating", () => {
    expect(() => validateNewUser({ ...valid, password: "x".repeat(72) })).not.toThrow();
    expect(violations(() => validateNewUser({ ...valid, password: "x".repeat(73) }))).toEqual([{ field: "password", code: "TOO_LONG" }]);
    // 25 three-byte characters are 75 bytes, though only 25 characters.
    expect(violations(() => validateNewUser({ ...valid, password: "密".repeat(25) }))).toEqual([{ field: "password", code: "TOO_LONG" }]);
  });

  it("checks avatar URLs, roles and metadata", () => {
    expect(
      violations(() =>
        validateNewUser({ ...valid, avatarUrl: "javascript:alert(1)", roles: ["Admin!"], metadata: { [""]: "x" } }),
      ),
    ).toEqual([
      { field: "avatar_url", code: "INVALID_FORMAT" },
      { field: "roles", code: "INVALID_FORMAT" },
      { field: "metadata", code: "INVALID_KEY" },
    ]);
  });
});

describe("validateUserChange", () => {
  it("checks only the fields that are present", () => {
    expect(() => validateUserChange({})).not.toThrow();
    expect(() => validateUserChange({ fullName: "New Name" })).not.toThrow();
    expect(violations(() => validateUserChange({ email: "x", username: "no spaces" }))).toEqual([
      { field: "username", code: "INVALID_FORMAT" },
      { field: "email", code: "INVALID_FORMAT" },
    ]);
  });
});

describe("parseUserQuery", () => {
  const raw = { page: 0, pageSize: 0, search: "", status: undefined, roles: [], sortBy: "", sortOrder: "" };

  it("applies the defaults: page 1, 10 per page, sorted by id ascending", () => {
    expect(parseUserQuery(raw)).toEqual({ search: "", status: undefined, roles: [], sortBy: "id", sortOrder: "asc", offset: 0, limit: 10 });
  });

  it("turns page and page size into offset and limit", () => {
    expect(parseUserQuery({ ...raw, page: 3, pageSize: 25, sortOrder: "DESC", sortBy: "created_at" })).toMatchObject({
      offset: 50,
      limit: 25,
      sortOrder: "desc",
      sortBy: "created_at",
    });
  });

  it("rejects unknown sort fields, bad orders and oversized pages together", () => {
    expect(violations(() => parseUserQuery({ ...raw, pageSize: 1001, sortBy: "password_hash", sortOrder: "up", page: -1 }))).toEqual([
      { field: "page", code: "OUT_OF_RANGE" },
      { field: "page_size", code: "OUT_OF_RANGE" },
      { field: "sort_by", code: "INVALID_VALUE" },
      { field: "sort_order", code: "INVALID_VALUE" },
    ]);
  });
});
