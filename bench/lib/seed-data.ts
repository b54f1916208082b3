/**
 * Deterministic user fixtures shared by every baseline and by the project
 * seeder, so that all targets serve byte-for-byte comparable users.
 */

/** One seeded user, in the contract's field names (camelCase, as protobuf-es uses). */
export interface SeedUser {
  /** Position from 1; the baselines use it as the user id. */
  index: number;
  username: string;
  email: string;
  fullName: string;
  avatarUrl: string;
  roles: string[];
  metadata: Record<string, string>;
}

/** Default number of users in a full run. */
export const DEFAULT_USER_COUNT = 10_000;

const TEAMS = ["alpha", "bravo", "charlie", "delta", "echo"] as const;

/** Zero-padded suffix: user00001 … user10000 (widens past 99,999). */
function suffix(index: number): string {
  return String(index).padStart(5, "0");
}

/** Builds the user at a 1-based position. */
export function seedUser(index: number): SeedUser {
  const tag = suffix(index);
  const username = `user${tag}`;
  return {
    index,
    username,
    email: `${username}@example.com`,
    fullName: `Bench User ${tag}`,
    avatarUrl: `https://example.com/avatars/${username}.png`,
    roles: index % 100 === 0 ? ["user", "moderator"] : ["user"],
    metadata: { team: TEAMS[index % TEAMS.length] ?? "alpha", source: "bench" },
  };
}

/** Yields users 1..count in order. */
export function* seedUsers(count: number): Generator<SeedUser> {
  for (let i = 1; i <= count; i++) yield seedUser(i);
}

/** The user every GetUser workload asks for: the middle one, so no target benefits from a first-row shortcut. */
export function probeUserIndex(count: number): number {
  return Math.max(1, Math.ceil(count / 2));
}
