import { invalidArgument, type FieldViolation } from "./errors.js";
import type { UserStatus } from "./types.js";

/** Limits of the user rules, in one place so clients and docs can quote them. */
export const userLimits = {
  usernameMin: 3,
  usernameMax: 32,
  emailMax: 254,
  passwordMinBytes: 8,
  /** bcrypt ignores bytes after 72, so longer passwords are refused rather than silently truncated. */
  passwordMaxBytes: 72,
  fullNameMax: 128,
  avatarUrlMax: 2048,
  rolesMax: 16,
  roleMax: 32,
  metadataEntriesMax: 32,
  metadataKeyMax: 64,
  metadataValueMax: 1024,
} as const;

const usernamePattern = /^[a-z0-9_.-]+$/;
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/;
const rolePattern = /^[a-z][a-z0-9_-]*$/;

/** The fields of a new user, already trimmed of nothing: validation reports, it never rewrites. */
export interface NewUserInput {
  username: string;
  email: string;
  password: string;
  fullName: string;
  avatarUrl: string;
  roles: string[];
  metadata: Record<string, string>;
}

/** A change to a user; undefined means "leave as is". */
export interface UserChange {
  username?: string | undefined;
  email?: string | undefined;
  fullName?: string | undefined;
  avatarUrl?: string | undefined;
  status?: UserStatus | undefined;
  roles?: string[] | undefined;
  metadata?: Record<string, string> | undefined;
}

/** Usernames are compared and stored in lower case, so "Alice" and "alice" are one account. */
export function normalizeUsername(username: string): string {
  return username.toLowerCase();
}

function checkUsername(value: string, out: FieldViolation[]): void {
  if (value === "") {
    out.push({ field: "username", code: "REQUIRED", message: "is required" });
  } else if (value.length < userLimits.usernameMin || value.length > userLimits.usernameMax) {
    out.push({
      field: "username",
      code: "INVALID_LENGTH",
      message: `must be ${userLimits.usernameMin} to ${userLimits.usernameMax} characters`,
    });
  } else if (!usernamePattern.test(normalizeUsername(value))) {
    out.push({ field: "username", code: "INVALID_FORMAT", message: "may contain only a-z, 0-9, '_', '.' and '-'" });
  }
}

function checkEmail(value: string, out: FieldViolation[]): void {
  if (value === "") {
    out.push({ field: "email", code: "REQUIRED", message: "is required" });
  } else if (value.length > userLimits.emailMax) {
    out.push({ field: "email", code: "TOO_LONG", message: `must be at most ${userLimits.emailMax} characters` });
  } else if (!emailPattern.test(value)) {
    out.push({ field: "email", code: "INVALID_FORMAT", message: "is not a valid email address" });
  }
}

/** Checks a password's byte length, which is what bcrypt sees. */
export function checkPassword(value: string, out: FieldViolation[]): void {
  const bytes = Buffer.byteLength(value, "utf8");
  if (value === "") {
    out.push({ field: "password", code: "REQUIRED", message: "is required" });
  } else if (bytes < userLimits.passwordMinBytes) {
    out.push({ field: "password", code: "TOO_SHORT", message: `must be at least ${userLimits.passwordMinBytes} bytes` });
  } else if (bytes > userLimits.passwordMaxBytes) {
    out.push({
      field: "password",
      code: "TOO_LONG",
      message: `must be at most ${userLimits.passwordMaxBytes} bytes (bcrypt ignores the rest)`,
    });
  }
}

function checkFullName(value: string, out: FieldViolation[]): void {
  if (value.length > userLimits.fullNameMax) {
    out.push({ field: "full_name", code: "TOO_LONG", message: `must be at most ${userLimits.fullNameMax} characters` });
  } else if (/[\u0000-\u001f\u007f]/.test(value)) {
    out.push({ field: "full_name", code: "INVALID_FORMAT", message: "must not contain control characters" });
  }
}

function checkAvatarUrl(value: string, out: FieldViolation[]): void {
  if (value === "") return;
  if (value.length > userLimits.avatarUrlMax) {
    out.push({ field: "avatar_url", code: "TOO_LONG", message: `must be at most ${userLimits.avatarUrlMax} characters` });
    return;
  }
  let ok = false;
  try {
    const url = new URL(value);
    ok = url.protocol === "https:" || url.protocol === "http:";
  } catch {
    ok = false;
  }
  if (!ok) out.push({ field: "avatar_url", code: "INVALID_FORMAT", message: "must be an http or https URL" });
}

function checkRoles(roles: string[], out: FieldViolation[]): void {
  if (roles.length > userLimits.rolesMax) {
    out.push({ field: "roles", code: "TOO_MANY", message: `at most ${userLimits.rolesMax} roles` });
    return;
  }
  for (const role of roles) {
    if (role.length === 0 || role.length > userLimits.roleMax || !rolePattern.test(role)) {
      out.push({
        field: "roles",
        code: "INVALID_FORMAT",
        message: `role "${role.slice(0, 40)}" must be 1 to ${userLimits.roleMax} of a-z, 0-9, '_' and '-', starting with a letter`,
      });
      return;
    }
  }
}

function checkMetadata(metadata: Record<string, string>, out: FieldViolation[]): void {
  const entries = Object.entries(metadata);
  if (entries.length > userLimits.metadataEntriesMax) {
    out.push({ field: "metadata", code: "TOO_MANY", message: `at most ${userLimits.metadataEntriesMax} entries` });
    return;
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > userLimits.metadataKeyMax) {
      out.push({ field: "metadata", code: "INVALID_KEY", message: `keys must be 1 to ${userLimits.metadataKeyMax} characters` });
      return;
    }
    if (value.length > userLimits.metadataValueMax) {
      out.push({ field: "metadata", code: "TOO_LONG", message: `value of "${key.slice(0, 40)}" is longer than ${userLimits.metadataValueMax}` });
      return;
    }
  }
}

/** Validates a new user and throws one INVALID_ARGUMENT that lists every failing field. */
export function validateNewUser(input: NewUserInput): void {
  const out: FieldViolation[] = [];
  checkUsername(input.username, out);
  checkEmail(input.email, out);
  checkPassword(input.password, out);
  checkFullName(input.fullName, out);
  checkAvatarUrl(input.avatarUrl, out);
  checkRoles(input.roles, out);
  checkMetadata(input.metadata, out);
  if (out.length > 0) throw invalidArgument(out);
}

/** Validates the present fields of a change and throws one INVALID_ARGUMENT that lists every failing field. */
export function validateUserChange(change: UserChange): void {
  const out: FieldViolation[] = [];
  if (change.username !== undefined) checkUsername(change.username, out);
  if (change.email !== undefined) checkEmail(change.email, out);
  if (change.fullName !== undefined) checkFullName(change.fullName, out);
  if (change.avatarUrl !== undefined) checkAvatarUrl(change.avatarUrl, out);
  if (change.roles !== undefined) checkRoles(change.roles, out);
  if (change.metadata !== undefined) checkMetadata(change.metadata, out);
  if (out.length > 0) throw invalidArgument(out);
}

/** Fields a ListUsers call may sort by, as named on the wire. */
export const sortableFields = ["id", "username", "email", "full_name", "created_at", "updated_at"] as const;
export type SortField = (typeof sortableFields)[number];

/** A validated ListUsers query. */
export interface UserQuery {
  search: string;
  /** undefined: every status except deleted. */
  status: UserStatus | undefined;
  roles: string[];
  sortBy: SortField;
  sortOrder: "asc" | "desc";
  offset: number;
  limit: number;
}

export const listLimits = { defaultPageSize: 10, maxPageSize: 1000, searchMax: 256 } as const;

/** Raw ListUsers arguments, before validation. */
export interface ListUsersInput {
  page: number;
  pageSize: number;
  search: string;
  status: UserStatus | undefined;
  roles: string[];
  sortBy: string;
  sortOrder: string;
}

/** Turns raw ListUsers arguments into a query, rejecting every bad one at once. */
export function parseUserQuery(raw: ListUsersInput): UserQuery {
  const out: FieldViolation[] = [];
  if (raw.page < 0) out.push({ field: "page", code: "OUT_OF_RANGE", message: "must be 1 or more (0 means 1)" });
  if (raw.pageSize < 0 || raw.pageSize > listLimits.maxPageSize) {
    out.push({ field: "page_size", code: "OUT_OF_RANGE", message: `must be 1 to ${listLimits.maxPageSize} (0 means ${listLimits.defaultPageSize})` });
  }
  if (raw.search.length > listLimits.searchMax) {
    out.push({ field: "search", code: "TOO_LONG", message: `must be at most ${listLimits.searchMax} characters` });
  }
  const sortBy = raw.sortBy === "" ? "id" : raw.sortBy;
  if (!(sortableFields as readonly string[]).includes(sortBy)) {
    out.push({ field: "sort_by", code: "INVALID_VALUE", message: `must be one of ${sortableFields.join(", ")}` });
  }
  const sortOrder = raw.sortOrder === "" ? "asc" : raw.sortOrder.toLowerCase();
  if (sortOrder !== "asc" && sortOrder !== "desc") {
    out.push({ field: "sort_order", code: "INVALID_VALUE", message: "must be asc or desc" });
  }
  checkRoles(raw.roles, out);
  if (out.length > 0) throw invalidArgument(out);
  const page = raw.page === 0 ? 1 : raw.page;
  const limit = raw.pageSize === 0 ? listLimits.defaultPageSize : raw.pageSize;
  return {
    search: raw.search,
    status: raw.status,
    roles: raw.roles,
    sortBy: sortBy as SortField,
    sortOrder: sortOrder as "asc" | "desc",
    offset: (page - 1) * limit,
    limit,
  };
}
