import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscribeChatRequestSchema, UserStatus } from "../gen/user/user_pb.js";
import { launchChromium } from "./support/browser.js";
import { clientsFor, loginToken } from "./support/clients.js";
import { freePort } from "./support/free-port.js";
import { spawnServer, type SpawnedServer } from "./support/spawn-server.js";
import { ensureWebBuild } from "./support/web-build.js";

const ADMIN_PASSWORD = "admin-test-password";
const outputDir = path.resolve("test-output");

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

interface Person {
  username: string;
  password: string;
  id: bigint;
  page: Page;
  context: BrowserContext;
  /** since_id of every SubscribeChat call this page made, in order. */
  subscriptions: bigint[];
}

describe("browser chat client (headless Chromium, real server process)", () => {
  let browser: Browser;
  let server: SpawnedServer;
  let port: number;
  let dataDir: string;
  let webRoot: string;
  const jwtSecret = randomBytes(32).toString("base64url");
  let adminToken: string;
  const people: Record<"alice" | "bob" | "carol", Person> = {} as never;

  const url = () => `http://127.0.0.1:${port}`;
  const startServer = () =>
    spawnServer({
      PORT: String(port),
      DATA_DIR: dataDir,
      WEB_ROOT: webRoot,
      JWT_SECRET: jwtSecret,
      // Short keep-alives so the pages must skip many id-0 messages; a short drain so a restart is quick.
      CHAT_KEEPALIVE_MS: "1000",
      SHUTDOWN_TIMEOUT_MS: "500",
    });

  /** Opens a fresh browser context, records its SubscribeChat requests and signs in through the form. */
  async function signIn(username: string, password: string): Promise<Omit<Person, "id">> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const subscriptions: bigint[] = [];
    page.on("request", (request) => {
      if (!request.url().endsWith("/user.UserService/SubscribeChat")) return;
      const body = request.postDataBuffer();
      // A Connect streaming request is one enveloped message: 1 flag byte, 4 length bytes, then protobuf.
      if (body !== null) subscriptions.push(fromBinary(SubscribeChatRequestSchema, body.subarray(5)).sinceId);
    });
    await page.goto(url());
    const form = page.getByTestId("signin-form");
    await form.getByLabel("Username or email").fill(username);
    await form.getByLabel("Password").fill(password);
    await form.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("whoami").filter({ hasText: username }).waitFor();
    await connected(page);
    return { username, password, page, context, subscriptions };
  }

  const connected = (page: Page, timeout = 10_000) => page.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout });
  const messageItem = (page: Page, text: string) => page.getByTestId("messages").locator('[data-testid="message"]', { hasText: text });
  const countAnywhere = (page: Page, text: string) => page.getByText(text, { exact: false }).count();

  /** Makes the page note (with its own clock, from a MutationObserver) when a message with this text first appears. */
  const watchArrival = (page: Page, text: string) =>
    page.evaluate((wanted) => {
      const arrivals = ((window as unknown as { arrivals?: Record<string, number> }).arrivals ??= {});
      const observer = new MutationObserver(() => {
        const contents = document.querySelectorAll('[data-testid="message"] .content');
        if (![...contents].some((el) => el.textContent === wanted)) return;
        arrivals[wanted] = Date.now();
        observer.disconnect();
      });
      observer.observe(document.body, { childList: true, subtree: true });
    }, text);
  /** Makes the page note when the Enter key goes down, i.e. when the person sends. */
  const watchEnter = (page: Page) =>
    page.evaluate(() => {
      const onKey = (event: KeyboardEvent) => {
        if (event.key !== "Enter") return;
        (window as unknown as { enterAt?: number }).enterAt = Date.now();
        document.removeEventListener("keydown", onKey, true);
      };
      document.addEventListener("keydown", onKey, true);
    });
  const arrivedAt = (page: Page, text: string) =>
    page.evaluate((wanted) => (window as unknown as { arrivals?: Record<string, number> }).arrivals?.[wanted] ?? Number.POSITIVE_INFINITY, text);

  /** Types into the open conversation's composer and presses Enter, the way a keyboard user sends. */
  async function send(page: Page, text: string): Promise<void> {
    const input = page.getByTestId("composer-input");
    await input.fill(text);
    await input.press("Enter");
  }

  /** Ids of the messages the page shows in the open conversation, in screen order. */
  const shownIds = (page: Page) =>
    page.getByTestId("messages").locator('[data-testid="message"]').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset["id"] ?? ""));

  beforeAll(async () => {
    mkdirSync(outputDir, { recursive: true });
    dataDir = mkdtempSync(path.join(tmpdir(), "web-e2e-"));
    [webRoot, port] = await Promise.all([ensureWebBuild(), freePort()]);
    // Started side by side; whichever comes up is kept so afterAll can stop it if the other fails.
    const [launched, started] = await Promise.allSettled([launchChromium(), startServer()]);
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "fulfilled") server = started.value;
    if (launched.status === "rejected") throw launched.reason;
    if (started.status === "rejected") throw started.reason;
    adminToken = await loginToken(server.url, "admin", ADMIN_PASSWORD);
    const admin = clientsFor("connect", server.url, { token: adminToken });
    const ids: Record<string, bigint> = {};
    for (const name of ["alice", "bob", "carol"] as const) {
      const res = await admin.users.createUser({ username: name, email: `${name}@example.test`, password: `${name}-password-1`, fullName: `${name[0]?.toUpperCase()}${name.slice(1)} Example` });
      ids[name] = res.user?.id ?? 0n;
    }
    const signedIn = await Promise.all((["alice", "bob", "carol"] as const).map((name) => signIn(name, `${name}-password-1`)));
    for (const person of signedIn) people[person.username as "alice"] = { ...person, id: ids[person.username] ?? 0n };
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    if (webRoot !== undefined && webRoot.startsWith(tmpdir())) rmSync(webRoot, { recursive: true, force: true });
  });

  it("serves the built page at / and loads the app, not a directory listing", async () => {
    const res = await fetch(`${url()}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain('<div id="app">');
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
  });

  it("delivers a room message from A to B and C within a second, marked as own only on A's page", async () => {
    const { alice, bob, carol } = people;
    const text = `hello everyone ${Date.now()}`;
    await Promise.all([watchArrival(bob.page, text), watchArrival(carol.page, text), watchEnter(alice.page)]);
    const subscriptionsBefore = [bob.subscriptions.length, carol.subscriptions.length];
    await send(alice.page, text);
    await Promise.all([bob, carol, alice].map((person) => messageItem(person.page, text).waitFor({ timeout: 5000 })));
    // It came over the streams that were already open, not through a new subscription.
    expect([bob.subscriptions.length, carol.subscriptions.length]).toEqual(subscriptionsBefore);
    // From A's Enter key to B's screen, timed by the pages on the one machine clock, so the runner's polling does not count.
    const sentAt = await alice.page.evaluate(() => (window as unknown as { enterAt?: number }).enterAt ?? Number.NaN);
    for (const person of [bob, carol]) expect((await arrivedAt(person.page, text)) - sentAt).toBeLessThan(1000);

    expect(await messageItem(alice.page, text).getAttribute("data-own")).toBe("true");
    expect(await messageItem(bob.page, text).getAttribute("data-own")).toBe("false");
    expect(await messageItem(bob.page, text).getAttribute("data-from")).toBe("alice");
    expect(await messageItem(bob.page, text).locator(".sender").textContent()).toBe("alice");
    expect(await messageItem(bob.page, text).locator("time").getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const person of [alice, bob, carol]) expect(await messageItem(person.page, text).count()).toBe(1);
    // Keep-alives (id 0) arrive every second and are never shown.
    expect(await bob.page.locator('[data-testid="message"][data-id="0"]').count()).toBe(0);
    expect(await alice.page.getByTestId("composer-input").inputValue()).toBe("");
  });

  it("sends a direct message from B that only A sees, with an unread count until A opens it", async () => {
    const { alice, bob, carol } = people;
    const secret = `just between us ${Date.now()}`;

    await bob.page.getByTestId("tab-people").click();
    await bob.page.getByLabel("Search").fill("alice");
    await bob.page.getByLabel("Search").press("Enter");
    const row = bob.page.locator('[data-testid="user-row"][data-username="alice"]');
    await row.waitFor();
    expect(await bob.page.locator('[data-testid="user-row"]').count()).toBe(1);
    await row.getByRole("button", { name: "Message alice" }).click();
    expect(await bob.page.getByTestId("conversation-title").textContent()).toBe("alice");
    await bob.page.getByLabel("Message to alice").waitFor();
    await send(bob.page, secret);
    await messageItem(bob.page, secret).waitFor({ timeout: 2000 });
    expect(await messageItem(bob.page, secret).getAttribute("data-own")).toBe("true");

    // A is looking at the room: the DM shows up as one unread in the conversation with bob.
    const dmButton = alice.page.getByTestId(`conversation-dm-${bob.id}`);
    await dmButton.locator('[data-testid="unread"]').filter({ hasText: "1" }).waitFor({ timeout: 2000 });
    expect(await dmButton.getAttribute("aria-label")).toBe("bob, 1 unread");
    expect(await alice.page.getByTestId("unread-total").textContent()).toBe("1");
    expect(await messageItem(alice.page, secret).count()).toBe(0);
    await dmButton.click();
    await messageItem(alice.page, secret).waitFor({ timeout: 1000 });
    expect(await messageItem(alice.page, secret).getAttribute("data-from")).toBe("bob");
    expect(await dmButton.locator('[data-testid="unread"]').count()).toBe(0);
    expect(await alice.page.getByTestId("unread-total").isHidden()).toBe(true);

    // C gets a later room message, so anything sent before it has reached C if it ever would.
    const marker = `room marker after the dm ${Date.now()}`;
    await bob.page.getByTestId("conversation-room").click();
    await send(bob.page, marker);
    await messageItem(carol.page, marker).waitFor({ timeout: 2000 });
    expect(await countAnywhere(carol.page, secret)).toBe(0);
    expect(await carol.page.getByTestId(`conversation-dm-${bob.id}`).count()).toBe(0);
    expect(await carol.page.getByTestId("unread-total").isHidden()).toBe(true);
    await alice.page.getByTestId("conversation-room").click();
    await messageItem(alice.page, marker).waitFor({ timeout: 2000 });
  });

  it("shows a lost connection during a server restart, resumes after the last id and shows every message exactly once", async () => {
    const { alice, bob, carol } = people;
    const before = `before the restart ${Date.now()}`;
    await send(carol.page, before);
    for (const person of [alice, bob]) await messageItem(person.page, before).waitFor({ timeout: 2000 });
    const lastSeen = BigInt((await shownIds(alice.page)).at(-1) ?? "0");
    expect(lastSeen).toBeGreaterThan(0n);
    const subscriptionsBefore = { alice: alice.subscriptions.length, bob: bob.subscriptions.length };

    expect(await server.stop()).toBe(0);
    for (const person of [alice, bob]) {
      const status = person.page.locator('[data-testid="connection"][data-state="reconnecting"]');
      await status.waitFor({ timeout: 5000 });
      expect(await status.textContent()).toMatch(/^Connection lost\. Reconnecting/);
    }

    server = await startServer();
    const carolToken = await loginToken(server.url, "carol", "carol-password-1");
    const carolNode = clientsFor("connect", server.url, { token: carolToken });
    const gap = [`sent in the gap one ${Date.now()}`, `sent in the gap two ${Date.now()}`];
    const sentIds: bigint[] = [];
    for (const content of gap) sentIds.push((await carolNode.users.sendChatMessage({ content })).message?.id ?? 0n);
    expect(sentIds[0]).toBe(lastSeen + 1n);
    expect(sentIds[1]).toBe(lastSeen + 2n);

    for (const person of [alice, bob]) {
      await connected(person.page, 15_000);
      for (const content of gap) await messageItem(person.page, content).waitFor({ timeout: 5000 });
      for (const content of [...gap, before]) expect(await messageItem(person.page, content).count()).toBe(1);
      const ids = (await shownIds(person.page)).map(BigInt);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
      expect(ids.slice(-2)).toEqual(sentIds);
    }
    // The pages asked to resume after the newest id they had seen, not for the history again.
    expect(alice.subscriptions.slice(subscriptionsBefore.alice)).toContain(lastSeen);
    expect(alice.subscriptions.slice(subscriptionsBefore.alice).every((id) => id === lastSeen)).toBe(true);
    expect(bob.subscriptions.slice(subscriptionsBefore.bob).every((id) => id === lastSeen)).toBe(true);
    expect(alice.subscriptions[0]).toBe(0n);

    // Sending from the page works again after the restart.
    const after = `after the restart ${Date.now()}`;
    await send(bob.page, after);
    await messageItem(alice.page, after).waitFor({ timeout: 1000 });
    await messageItem(carol.page, after).waitFor({ timeout: 5000 });

    const shot = path.join(outputDir, "web-client-chat.png");
    await alice.page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(5000);
  }, 45_000);

  it("refuses a wrong password readably; sign-up with a bad email names the field, a good one signs in", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(url());
      const signInForm = page.getByTestId("signin-form");
      await signInForm.getByLabel("Username or email").fill("alice");
      await signInForm.getByLabel("Password").fill("not-the-password");
      await signInForm.getByRole("button", { name: "Sign in" }).click();
      await signInForm.getByTestId("form-message").filter({ hasText: "Invalid username or password." }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("users.session"))).toBeNull();
      expect(await page.getByTestId("whoami").count()).toBe(0);

      await page.getByRole("button", { name: "Create account" }).click();
      const form = page.getByTestId("signup-form");
      await form.getByLabel("Username").fill("dave");
      await form.getByLabel("Email").fill("dave-at-example");
      await form.getByLabel("Password").fill("dave-password-1");
      await form.getByRole("button", { name: "Create account" }).click();

      const emailError = form.getByTestId("field-error-email");
      await emailError.waitFor();
      expect(await emailError.textContent()).toBe("email is not a valid email address");
      expect(await form.getByLabel("Email").getAttribute("aria-invalid")).toBe("true");
      expect(await form.getByLabel("Username").getAttribute("aria-invalid")).toBeNull();
      expect(await form.getByTestId("form-message").getAttribute("role")).toBe("alert");
      // The field with the error takes the focus, so a keyboard user lands on it.
      expect(await page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("email");
      const admin = clientsFor("connect", server.url, { token: adminToken });
      expect((await collect(admin.users.listUsers({ search: "dave" }))).length).toBe(0);

      await form.getByLabel("Email").fill("dave@example.test");
      await form.getByRole("button", { name: "Create account" }).click();
      await page.getByTestId("whoami").filter({ hasText: "dave" }).waitFor();
      await connected(page);
      const token = await page.evaluate(() => sessionStorage.getItem("users.session"));
      expect(token).toContain("token");

      // Profile: a bad avatar URL names the field; a good change is stored.
      await page.getByTestId("tab-profile").click();
      const profile = page.getByTestId("profile-form");
      await profile.getByLabel("Avatar URL").fill("ftp://example.test/a.png");
      await profile.getByRole("button", { name: "Save changes" }).click();
      await profile.getByTestId("field-error-avatar_url").filter({ hasText: "avatar url must be an http or https URL" }).waitFor();
      await profile.getByLabel("Avatar URL").fill("");
      await profile.getByLabel("Full name").fill("Dave Example");
      await profile.getByRole("button", { name: "Save changes" }).click();
      await profile.getByTestId("form-message").filter({ hasText: "Saved." }).waitFor();
      const [dave] = await collect(admin.users.listUsers({ search: "dave" }));
      expect(dave?.fullName).toBe("Dave Example");
      expect(dave?.avatarUrl).toBe("");

      // A reload keeps the session of this tab.
      await page.reload();
      await page.getByTestId("whoami").filter({ hasText: "dave" }).waitFor();
    } finally {
      await context.close();
    }
  });

  it("lets an admin suspend a user from the directory, and offers non-admins no such button", async () => {
    expect(await people.bob.page.getByTestId("suspend-user").count()).toBe(0);
    const { page, context } = await signIn("admin", ADMIN_PASSWORD);
    try {
      await page.getByTestId("tab-people").click();
      const row = page.locator('[data-testid="user-row"][data-username="carol"]');
      await row.waitFor();
      await row.getByRole("button", { name: "Suspend carol" }).click();
      await row.getByTestId("user-status").filter({ hasText: "Suspended" }).waitFor();
      const admin = clientsFor("connect", server.url, { token: adminToken });
      const res = await admin.users.getUser({ userId: people.carol.id });
      expect(res.user?.status).toBe(UserStatus.SUSPENDED);
      // The suspended user's page can no longer send, and says why.
      await send(people.carol.page, "am I still here?");
      await people.carol.page.getByTestId("auth-notice").waitFor({ timeout: 5000 });
      expect(await people.carol.page.getByTestId("auth-notice").textContent()).toBe("Your session has ended. Please sign in again.");
    } finally {
      await context.close();
    }
  });
});
