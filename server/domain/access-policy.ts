import { permissionDenied } from "./errors.js";
import type { UserChange } from "./user-rules.js";
import type { Principal, UserStatus } from "./types.js";

/**
 * Who may do what to users, in one place: admins may do everything; a user
 * may read the directory and change or soft-delete only themself, and never
 * their own roles or status.
 */
export const accessPolicy = {
  /** Only admins create users with chosen roles or status, or in batches. */
  assertMayCreateAsAdmin(principal: Principal | undefined): void {
    if (!principal?.isAdmin) throw permissionDenied("only admins may create users this way");
  },

  assertMayReadDirectory(principal: Principal | undefined): void {
    if (principal === undefined) throw permissionDenied("sign in to read the directory");
  },

  /** Only admins see deleted users. */
  assertMayListStatus(principal: Principal, status: UserStatus | undefined): void {
    if (status === "deleted" && !principal.isAdmin) throw permissionDenied("only admins may list deleted users");
  },

  assertMayUpdate(principal: Principal, targetId: number, change: UserChange): void {
    if (principal.isAdmin) return;
    if (principal.userId !== targetId) throw permissionDenied("you may only update your own account");
    if (change.roles !== undefined) throw permissionDenied("only admins may change roles");
    if (change.status !== undefined) throw permissionDenied("only admins may change status");
  },

  assertMayDelete(principal: Principal, targetId: number, soft: boolean): void {
    if (principal.isAdmin) return;
    if (!soft) throw permissionDenied("only admins may delete users permanently");
    if (principal.userId !== targetId) throw permissionDenied("you may only delete your own account");
  },
};
