import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DomainError } from "../domain/errors.js";
import type { UserStatus } from "../domain/types.js";
import type { UserQuery } from "../domain/user-rules.js";
import type { NewUserRow, Storage, StoredUser } from "./ports.js";

/** A storage opened for one test, and how to throw it away afterwards. */
export interface StorageFixture {
  storage: Storage;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

function row(username: string, extra: Partial<NewUserRow> = {}): NewUserRow {
  return {
    username,
    email: `${username.toLowerCase()}@example.com`,
    passwordHash: `hash-of-${username}`,
    fullName: "",
    avatarUrl: "",
    status: "active",
    roles: ["user"],
    metadata: {},
    createdAt: T0,
    ...extra,
  };
}

function query(extra: Partial<UserQuery> = {}): UserQuery {
  return { search: "", status: undefined, roles: [], sortBy: "id", sortOrder: "asc", offset: 0, limit: 100, ...extra };
}

async function collect(rows: AsyncIterable<StoredUser>): Promise<StoredUser[]> {
  const out: StoredUser[] = [];
  for await (const user of rows) out.push(user);
  return out;
}

async function names(storage: Storage, q: Partial<UserQuery>): Promise<string[]> {
  return (await collect(storage.users.list(query(q)))).map((u) => u.username);
}

/** Resolves to the DomainError a promise rejects with, failing when it resolves or rejects otherwise. */
async function domainFailure(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

/**
 * The behaviour every storage engine must show, run unchanged against each one,
 * so a new engine is correct when this suite passes on it.
 */
export function describeStorageContract(engine: Storage["engine"], open: () => Promise<StorageFixture>): void {
  describe(`storage contract (${engine})`, () => {
    let fixture: StorageFixture | undefined;
    let storage: Storage;

    beforeEach(async () => {
      fixture = await open();
      storage = fixture.storage;
    });
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("reports its engine and answers ping", async () => {
      expect(storage.engine).toBe(engine);
      await expect(storage.ping()).resolves.toBeUndefined();
    });

    describe("users", () => {
      it("creates a user with every field and reads it back by id", async () => {
        const created = await storage.users.create(
          row("alice", {
            email: "Alice@Example.com",
            fullName: "Alice Liddell",
            avatarUrl: "https://example.com/a.png",
            status: "inactive",
            roles: ["user", "ops"],
            metadata: { team: "blue", "emoji": "🐇" },
          }),
        );
        expect(created).toEqual({
          id: expect.any(Number),
          username: "alice",
          email: "Alice@Example.com",
          passwordHash: "hash-of-alice",
          fullName: "Alice Liddell",
          avatarUrl: "https://example.com/a.png",
          status: "inactive",
          roles: ["user", "ops"],
          metadata: { team: "blue", emoji: "🐇" },
          createdAt: T0,
          updatedAt: T0,
        });
        expect(created.id).toBeGreaterThan(0);
        expect(await storage.users.getById(created.id)).toEqual(created);
        expect(await storage.users.getById(created.id + 1000)).toBeUndefined();
        expect(await storage.users.count()).toBe(1);
      });

      it("gives increasing ids", async () => {
        const a = await storage.users.create(row("first"));
        const b = await storage.users.create(row("second"));
        expect(b.id).toBeGreaterThan(a.id);
      });

      it("finds a user by username or email, ignoring case", async () => {
        const bob = await storage.users.create(row("Bob", { email: "Bob@Example.com" }));
        await storage.users.create(row("carol"));
        expect((await storage.users.findByLogin("bob"))?.id).toBe(bob.id);
        expect((await storage.users.findByLogin("BOB"))?.id).toBe(bob.id);
        expect((await storage.users.findByLogin("bob@example.COM"))?.id).toBe(bob.id);
        expect(await storage.users.findByLogin("bo")).toBeUndefined();
        expect(await storage.users.findByLogin("%")).toBeUndefined();
      });

      it("refuses a username or email that differs only in case, with ALREADY_EXISTS", async () => {
        await storage.users.create(row("dave", { email: "dave@example.com" }));
        const byName = await domainFailure(storage.users.create(row("DAVE", { email: "other@example.com" })));
        expect(byName.kind).toBe("already_exists");
        expect(byName.details.reason).toBe("USERNAME_TAKEN");
        const byEmail = await domainFailure(storage.users.create(row("david", { email: "DAVE@EXAMPLE.COM" })));
        expect(byEmail.kind).toBe("already_exists");
        expect(byEmail.details.reason).toBe("EMAIL_TAKEN");
        expect(await storage.users.count()).toBe(1);
      });

      it("lets exactly one of many concurrent creates of one username win", async () => {
        const attempts = ["race", "RACE", "Race", "rAce", "raCe", "racE", "RAce", "raCE"].map((name, i) =>
          storage.users.create(row(name, { email: `racer${i}@example.com` })),
        );
        const results = await Promise.allSettled(attempts);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(7);
        for (const failure of lost) {
          expect(failure.reason).toBeInstanceOf(DomainError);
          expect((failure.reason as DomainError).kind).toBe("already_exists");
          expect((failure.reason as DomainError).details.reason).toBe("USERNAME_TAKEN");
        }
        expect(await storage.users.count()).toBe(1);
      });

      it("lets exactly one of concurrent creates of one email win", async () => {
        const results = await Promise.allSettled(
          [1, 2, 3, 4].map((i) => storage.users.create(row(`mail${i}`, { email: i % 2 === 0 ? "Same@Example.com" : "same@example.com" }))),
        );
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected") expect((r.reason as DomainError).details.reason).toBe("EMAIL_TAKEN");
        }
      });

      it("updates only the given columns and stamps updatedAt", async () => {
        const erin = await storage.users.create(row("erin", { fullName: "Erin", metadata: { a: "1" } }));
        const updated = await storage.users.update(erin.id, {
          fullName: "Erin E.",
          roles: ["user", "admin"],
          status: "suspended",
          updatedAt: T0 + 5,
        });
        expect(updated).toEqual({ ...erin, fullName: "Erin E.", roles: ["user", "admin"], status: "suspended", updatedAt: T0 + 5 });
        expect(await storage.users.getById(erin.id)).toEqual(updated);
        const renamed = await storage.users.update(erin.id, { username: "ERIN", passwordHash: "new-hash", updatedAt: T0 + 6 });
        expect(renamed?.username).toBe("ERIN");
        expect(renamed?.passwordHash).toBe("new-hash");
        expect(renamed?.metadata).toEqual({ a: "1" });
      });

      it("refuses an update that clashes with another user and leaves the row unchanged", async () => {
        await storage.users.create(row("frank", { email: "frank@example.com" }));
        const gina = await storage.users.create(row("gina", { email: "gina@example.com" }));
        const byName = await domainFailure(storage.users.update(gina.id, { username: "FRANK", updatedAt: T0 + 1 }));
        expect(byName.kind).toBe("already_exists");
        expect(byName.details.reason).toBe("USERNAME_TAKEN");
        const byEmail = await domainFailure(storage.users.update(gina.id, { email: "Frank@Example.com", updatedAt: T0 + 1 }));
        expect(byEmail.details.reason).toBe("EMAIL_TAKEN");
        expect(await storage.users.getById(gina.id)).toEqual(gina);
      });

      it("returns undefined when updating or false when removing a missing user", async () => {
        expect(await storage.users.update(424242, { fullName: "x", updatedAt: T0 })).toBeUndefined();
        expect(await storage.users.remove(424242)).toBe(false);
      });

      it("removes a user, after which its names are free again", async () => {
        const hal = await storage.users.create(row("hal"));
        expect(await storage.users.remove(hal.id)).toBe(true);
        expect(await storage.users.getById(hal.id)).toBeUndefined();
        expect(await storage.users.remove(hal.id)).toBe(false);
        const again = await storage.users.create(row("HAL", { email: "hal@example.com" }));
        expect(again.id).not.toBe(hal.id);
        expect(await storage.users.count()).toBe(1);
      });
    });

    describe("listing users", () => {
      const statuses: Record<string, UserStatus> = { dora: "inactive", eve: "deleted", fred: "suspended" };
      const people: Array<[string, string, string[], number]> = [
        // username, full name, roles, created offset
        ["carl", "Carl Sagan", ["user"], 30],
        ["anna", "Anna Karenina", ["user", "ops"], 10],
        ["bert", "Bert 50% Off", ["user", "dev"], 10],
        ["dora", "Dora_Explorer", ["admin"], 40],
        ["eve", "Eve Deleted", ["ops"], 50],
        ["fred", "Fred\\Backslash", ["user"], 20],
        ["gus", "Gus 500ff", ["user"], 60],
        ["hana", "HanaXExplorer", ["user"], 70],
      ];

      beforeEach(async () => {
        for (const [username, fullName, roles, offset] of people) {
          await storage.users.create(row(username, { fullName, roles, status: statuses[username] ?? "active", createdAt: T0 + offset }));
        }
      });

      it("hides deleted users unless asked for them", async () => {
        expect(await names(storage, {})).toEqual(["carl", "anna", "bert", "dora", "fred", "gus", "hana"]);
        expect(await names(storage, { status: "deleted" })).toEqual(["eve"]);
        expect(await names(storage, { status: "inactive" })).toEqual(["dora"]);
        expect(await storage.users.count()).toBe(8);
      });

      it("sorts by any column both ways, ties broken by id in the same direction", async () => {
        expect(await names(storage, { sortBy: "username" })).toEqual(["anna", "bert", "carl", "dora", "fred", "gus", "hana"]);
        expect(await names(storage, { sortBy: "username", sortOrder: "desc" })).toEqual(["hana", "gus", "fred", "dora", "carl", "bert", "anna"]);
        expect(await names(storage, { sortBy: "created_at" })).toEqual(["anna", "bert", "fred", "carl", "dora", "gus", "hana"]);
        expect(await names(storage, { sortBy: "created_at", sortOrder: "desc" })).toEqual(["hana", "gus", "dora", "carl", "fred", "bert", "anna"]);
        expect(await names(storage, { sortBy: "full_name" })).toEqual(["anna", "bert", "carl", "dora", "fred", "gus", "hana"]);
        expect(await names(storage, { sortOrder: "desc" })).toEqual(["hana", "gus", "fred", "dora", "bert", "anna", "carl"]);
      });

      it("pages with offset and limit", async () => {
        expect(await names(storage, { sortBy: "username", offset: 0, limit: 3 })).toEqual(["anna", "bert", "carl"]);
        expect(await names(storage, { sortBy: "username", offset: 3, limit: 3 })).toEqual(["dora", "fred", "gus"]);
        expect(await names(storage, { sortBy: "username", offset: 6, limit: 3 })).toEqual(["hana"]);
        expect(await names(storage, { sortBy: "username", offset: 9, limit: 3 })).toEqual([]);
      });

      it("searches username, email and full name, ignoring case", async () => {
        expect(await names(storage, { search: "EXPLORER" })).toEqual(["dora", "hana"]);
        expect(await names(storage, { search: "ANNA@EXAMPLE" })).toEqual(["anna"]);
        expect(await names(storage, { search: "sagan" })).toEqual(["carl"]);
        expect(await names(storage, { search: "nobody" })).toEqual([]);
      });

      it("treats LIKE wildcards and the escape character in a search literally", async () => {
        expect(await names(storage, { search: "50%" })).toEqual(["bert"]);
        expect(await names(storage, { search: "%" })).toEqual(["bert"]);
        expect(await names(storage, { search: "_" })).toEqual(["dora"]);
        expect(await names(storage, { search: "a_e" })).toEqual(["dora"]);
        expect(await names(storage, { search: "\\" })).toEqual(["fred"]);
        expect(await names(storage, { search: "5_0" })).toEqual([]);
      });

      it("matches any of the given roles", async () => {
        expect(await names(storage, { roles: ["ops"] })).toEqual(["anna"]);
        expect(await names(storage, { roles: ["ops", "dev"] })).toEqual(["anna", "bert"]);
        expect(await names(storage, { roles: ["ops"], status: "deleted" })).toEqual(["eve"]);
        expect(await names(storage, { roles: ["nope"] })).toEqual([]);
        expect(await names(storage, { roles: ["user"], search: "explorer" })).toEqual(["hana"]);
      });

      it("stops streaming when the signal aborts and leaves the store usable", async () => {
        for (let i = 0; i < 40; i++) await storage.users.create(row(`bulk${String(i).padStart(2, "0")}`));
        const controller = new AbortController();
        const seen: string[] = [];
        for await (const user of storage.users.list(query({ limit: 1000 }), controller.signal)) {
          seen.push(user.username);
          if (seen.length === 3) controller.abort();
        }
        expect(seen).toEqual(["carl", "anna", "bert"]);
        // An already aborted signal yields nothing at all.
        expect(await collect(storage.users.list(query(), controller.signal))).toEqual([]);
        expect(await storage.users.count()).toBe(48);
      });

      describe("past the engine's read chunk (600 more users, with ties)", () => {
        beforeEach(async () => {
          for (let i = 0; i < 600; i++) {
            // created_at repeats every 7 users and full_name every 3, so most sort keys tie.
            await storage.users.create(row(`bulk${String(i).padStart(3, "0")}`, { createdAt: T0 + 100 + (i % 7), fullName: `Bulk ${i % 3}` }));
          }
        });

        it("keeps the exact order of every sort, both ways, through offset and limit", async () => {
          const everyone = await collect(storage.users.list(query({ limit: 1000 })));
          expect(everyone).toHaveLength(607);
          const keyOf = { id: (u: StoredUser) => u.id, username: (u: StoredUser) => u.username, created_at: (u: StoredUser) => u.createdAt, full_name: (u: StoredUser) => u.fullName } as const;
          for (const sortBy of ["id", "username", "created_at", "full_name"] as const) {
            for (const sortOrder of ["asc", "desc"] as const) {
              const sign = sortOrder === "asc" ? 1 : -1;
              const key = keyOf[sortBy];
              const expected = [...everyone]
                .sort((a, b) => sign * (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id - b.id))
                .map((u) => u.username);
              expect(await names(storage, { sortBy, sortOrder, limit: 1000 }), `${sortBy} ${sortOrder}`).toEqual(expected);
              expect(await names(storage, { sortBy, sortOrder, offset: 123, limit: 400 }), `${sortBy} ${sortOrder} page`).toEqual(expected.slice(123, 523));
            }
          }
        });

        it("neither skips nor repeats a row when rows already sent are deleted mid-stream", async () => {
          const before = await names(storage, { sortBy: "username", limit: 1000 });
          const seen: string[] = [];
          for await (const user of storage.users.list(query({ sortBy: "username", limit: 1000 }))) {
            seen.push(user.username);
            if (seen.length === 300) {
              for (const gone of seen.slice(0, 5)) {
                const found = await storage.users.findByLogin(gone);
                expect(await storage.users.remove(found!.id)).toBe(true);
              }
            }
          }
          expect(seen).toEqual(before);
          expect(await storage.users.count()).toBe(603);
        });
      });

      it("lets a consumer stop early without holding the store", async () => {
        for await (const user of storage.users.list(query({ limit: 1000 }))) {
          expect(user.username).toBe("carl");
          break;
        }
        expect(await names(storage, { limit: 2 })).toEqual(["carl", "anna"]);
      });
    });

    describe("chat history", () => {
      let alice: StoredUser;
      let bob: StoredUser;
      let carol: StoredUser;

      beforeEach(async () => {
        alice = await storage.users.create(row("alice"));
        bob = await storage.users.create(row("bob"));
        carol = await storage.users.create(row("carol"));
      });

      const say = (from: StoredUser, to: number, content: string, at = T0) =>
        storage.chat.append({ fromUserId: from.id, toUserId: to, content, kind: "text", createdAt: at });

      it("is empty at first, with latestId 0", async () => {
        expect(await storage.chat.latestId()).toBe(0);
        expect(await storage.chat.after(0, 10)).toEqual([]);
        expect(await storage.chat.recentVisible(alice.id, 10)).toEqual([]);
      });

      it("stores a message with its sender's username and an increasing id", async () => {
        const first = await storage.chat.append({ fromUserId: alice.id, toUserId: 0, content: "hi 👋", kind: "image", createdAt: T0 + 1 });
        expect(first).toEqual({ id: expect.any(Number), fromUserId: alice.id, fromUsername: "alice", toUserId: 0, content: "hi 👋", kind: "image", createdAt: T0 + 1 });
        const second = await say(bob, alice.id, "psst");
        expect(second.id).toBeGreaterThan(first.id);
        expect(await storage.chat.latestId()).toBe(second.id);
      });

      it("reads everything after an id, ascending, at most limit", async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await say(alice, 0, `m${i}`)).id);
        expect((await storage.chat.after(0, 10)).map((m) => m.content)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
        expect((await storage.chat.after(ids[1]!, 2)).map((m) => m.content)).toEqual(["m2", "m3"]);
        expect(await storage.chat.after(ids[4]!, 10)).toEqual([]);
      });

      it("shows a user broadcasts, messages to them and messages from them, never others' direct messages", async () => {
        const m1 = await say(alice, 0, "to all");
        await say(bob, carol.id, "bob to carol");
        const m3 = await say(carol, alice.id, "carol to alice");
        const m4 = await say(alice, bob.id, "alice to bob");
        const m5 = await say(bob, 0, "bob to all");
        expect((await storage.chat.visibleAfter(alice.id, 0, 100)).map((m) => m.id)).toEqual([m1.id, m3.id, m4.id, m5.id]);
        expect((await storage.chat.visibleAfter(alice.id, m3.id, 100)).map((m) => m.id)).toEqual([m4.id, m5.id]);
        expect((await storage.chat.visibleAfter(alice.id, 0, 2)).map((m) => m.id)).toEqual([m1.id, m3.id]);
        expect((await storage.chat.visibleAfter(carol.id, 0, 100)).map((m) => m.content)).toEqual([
          "to all",
          "bob to carol",
          "carol to alice",
          "bob to all",
        ]);
      });

      it("returns the most recent visible messages in ascending order", async () => {
        for (let i = 0; i < 6; i++) await say(alice, 0, `b${i}`);
        await say(bob, carol.id, "hidden from alice");
        expect((await storage.chat.recentVisible(alice.id, 3)).map((m) => m.content)).toEqual(["b3", "b4", "b5"]);
        expect((await storage.chat.recentVisible(carol.id, 2)).map((m) => m.content)).toEqual(["b5", "hidden from alice"]);
      });

      it("gives concurrent appends distinct ids that after() returns in order", async () => {
        const stored = await Promise.all(Array.from({ length: 20 }, (_, i) => say(alice, 0, `c${i}`)));
        const ids = stored.map((m) => m.id);
        expect(new Set(ids).size).toBe(20);
        const read = await storage.chat.after(0, 100);
        expect(read.map((m) => m.id)).toEqual([...ids].sort((a, b) => a - b));
        expect(await storage.chat.latestId()).toBe(Math.max(...ids));
      });

      it("keeps a message whose sender was removed, with an empty username", async () => {
        const m = await say(carol, 0, "bye");
        await storage.users.remove(carol.id);
        expect(await storage.chat.after(m.id - 1, 1)).toEqual([{ ...m, fromUsername: "" }]);
      });
    });
  });
}
