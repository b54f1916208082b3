import { describe, expect, it } from "vitest";
import { accessPolicy } from "./access-policy.js";
import { DomainError } from "./errors.js";
import type { Principal } from "./types.js";

const alice: Principal = { userId: 10, username: "alice", roles: ["user"], isAdmin: false };
const admin: Principal = { userId: 1, username: "admin", roles: ["user", "admin"], isAdmin: true };
const BOB = 20;

function denied(check: () => void): string {
  try {
    check();
  } catch (error) {
    if (error instanceof DomainError && error.kind === "permission_denied") return error.message;
    throw error;
  }
  throw new Error("expected PERMISSION_DENIED");
}

describe("access policy", () => {
  it("only admins create users with chosen roles or in batches", () => {
    expect(() => accessPolicy.assertMayCreateAsAdmin(admin)).not.toThrow();
    expect(denied(() => accessPolicy.assertMayCreateAsAdmin(alice))).toBe("only admins may create users this way");
    expect(denied(() => accessPolicy.assertMayCreateAsAdmin(undefined))).toBe("only admins may create users this way");
  });

  it("any signed-in user reads the directory; nobody anonymous does", () => {
    expect(() => accessPolicy.assertMayReadDirectory(alice)).not.toThrow();
    expect(() => accessPolicy.assertMayReadDirectory(admin)).not.toThrow();
    expect(denied(() => accessPolicy.assertMayReadDirectory(undefined))).toBe("sign in to read the directory");
  });

  it("only admins list deleted users", () => {
    for (const status of [undefined, "active", "inactive", "suspended"] as const) {
      expect(() => accessPolicy.assertMayListStatus(alice, status)).not.toThrow();
    }
    expect(denied(() => accessPolicy.assertMayListStatus(alice, "deleted"))).toBe("only admins may list deleted users");
    expect(() => accessPolicy.assertMayListStatus(admin, "deleted")).not.toThrow();
  });

  it("a user updates only themself, and never their roles or status", () => {
    expect(() => accessPolicy.assertMayUpdate(alice, alice.userId, { fullName: "Alice A.", email: "a@example.com", username: "alice2" })).not.toThrow();
    expect(denied(() => accessPolicy.assertMayUpdate(alice, BOB, { fullName: "Bob?" }))).toBe("you may only update your own account");
    expect(denied(() => accessPolicy.assertMayUpdate(alice, alice.userId, { roles: ["user", "admin"] }))).toBe("only admins may change roles");
    expect(denied(() => accessPolicy.assertMayUpdate(alice, alice.userId, { roles: ["user"] }))).toBe("only admins may change roles");
    expect(denied(() => accessPolicy.assertMayUpdate(alice, alice.userId, { status: "active" }))).toBe("only admins may change status");
  });

  it("an admin updates anyone, including roles and status", () => {
    expect(() => accessPolicy.assertMayUpdate(admin, BOB, { roles: ["admin"], status: "suspended" })).not.toThrow();
  });

  it("a user soft-deletes only themself and never hard-deletes; an admin does both to anyone", () => {
    expect(() => accessPolicy.assertMayDelete(alice, alice.userId, true)).not.toThrow();
    expect(denied(() => accessPolicy.assertMayDelete(alice, BOB, true))).toBe("you may only delete your own account");
    expect(denied(() => accessPolicy.assertMayDelete(alice, alice.userId, false))).toBe("only admins may delete users permanently");
    expect(denied(() => accessPolicy.assertMayDelete(alice, BOB, false))).toBe("only admins may delete users permanently");
    expect(() => accessPolicy.assertMayDelete(admin, BOB, false)).not.toThrow();
    expect(() => accessPolicy.assertMayDelete(admin, BOB, true)).not.toThrow();
  });
});
