import { Code, ConnectError } from "@connectrpc/connect";
import type { User } from "../../../gen/user/user_pb.js";
import type { Api } from "../api.js";
import { startChatFeed, type ChatFeed } from "../chat-feed.js";
import { ChatStore } from "../chat-store.js";
import { h, replaceChildren } from "../dom.js";
import { NameBook } from "../name-book.js";
import type { StoredSession } from "../session.js";
import { createChatView } from "./chat-view.js";
import { createDirectoryView } from "./directory-view.js";
import { createProfileView } from "./profile-view.js";

export interface ShellDeps {
  api: Api;
  user: User;
  session: StoredSession;
  /** Stores a renewed token. */
  onSessionRenewed(session: StoredSession): void;
  /** Ends the session; `reason` is shown on the sign-in page. */
  onSignedOut(reason?: string): void;
}

type Tab = "chat" | "people" | "profile";

/** The signed-in page: header, tabs (chat, people, profile), the chat feed and token renewal. */
export function renderShell(root: HTMLElement, deps: ShellDeps): () => void {
  const { api } = deps;
  let me = deps.user;
  let session = deps.session;
  let ended = false;
  const isAdmin = me.roles.includes("admin");
  const readKey = `users.chat.read.${me.id}`;

  const end = (reason?: string) => {
    if (ended) return;
    ended = true;
    dispose();
    deps.onSignedOut(reason);
  };
  const isSessionError = (error: unknown) => error instanceof ConnectError && error.code === Code.Unauthenticated;
  /** Any call failing with UNAUTHENTICATED means the token or the account is no longer good. */
  const onError = (error: unknown) => {
    if (isSessionError(error)) end("Your session has ended. Please sign in again.");
  };

  const names = new NameBook(async (userId) => {
    const res = await api.users.getUser({ userId, fields: ["username"] });
    return res.found ? res.user?.username : undefined;
  });
  names.learn(me.id, me.username);
  const store = new ChatStore(me.id, readMarks(readKey), (marks) => {
    try {
      localStorage.setItem(readKey, JSON.stringify(marks));
    } catch {
      // Private mode or a full quota: unread counts then last for this page only.
    }
  });

  const tabs: Record<Tab, HTMLButtonElement> = {
    chat: h("button", { type: "button", "data-testid": "tab-chat" }, "Chat"),
    people: h("button", { type: "button", "data-testid": "tab-people" }, "People"),
    profile: h("button", { type: "button", "data-testid": "tab-profile" }, "Profile"),
  };
  const unreadBadge = h("span", { class: "badge", "data-testid": "unread-total", hidden: true });
  tabs.chat.append(unreadBadge);

  const chat = createChatView({
    api,
    store,
    names,
    onError,
    onUnreadChange(total) {
      unreadBadge.hidden = total === 0;
      unreadBadge.textContent = String(total);
      unreadBadge.setAttribute("aria-label", `${total} unread`);
      document.title = total > 0 ? `(${total}) Users chat` : "Users chat";
    },
  });
  const directory = createDirectoryView({
    api,
    me: () => me,
    isAdmin,
    onError,
    onUserSeen: (user) => names.learn(user.id, user.username),
    onMessageUser(user) {
      names.learn(user.id, user.username);
      show("chat");
      chat.openDirect(user.id);
    },
  });
  const whoami = h("span", { "data-testid": "whoami" }, me.username);
  const profile = createProfileView({
    api,
    me: () => me,
    onError,
    onUpdated(user) {
      me = user;
      whoami.textContent = user.username;
      names.learn(user.id, user.username);
    },
  });

  const panels: Record<Tab, HTMLElement> = { chat: chat.element, people: directory.element, profile: profile.element };
  function show(tab: Tab) {
    for (const [name, panel] of Object.entries(panels) as [Tab, HTMLElement][]) {
      panel.hidden = name !== tab;
      if (name === tab) tabs[name].setAttribute("aria-current", "page");
      else tabs[name].removeAttribute("aria-current");
    }
    chat.setVisible(tab === "chat");
    // Statuses change under us (suspensions, new sign-ups), so every visit reloads the page of users.
    if (tab === "people") directory.refresh();
    if (tab === "profile") profile.reset();
  }
  for (const [name, button] of Object.entries(tabs) as [Tab, HTMLButtonElement][]) button.addEventListener("click", () => show(name));

  const signOut = h("button", { type: "button", "data-testid": "sign-out", onclick: () => end() }, "Sign out");
  replaceChildren(
    root,
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h(
      "header",
      { class: "top" },
      h("h1", {}, "Users chat"),
      h("nav", { "aria-label": "Sections", class: "tabs" }, tabs.chat, tabs.people, tabs.profile),
      h("p", { class: "me" }, "Signed in as ", whoami, isAdmin ? " (admin)" : "", " ", signOut),
    ),
    h("main", { id: "main", tabindex: -1 }, chat.element, directory.element, profile.element),
  );
  show("chat");

  const feed: ChatFeed = startChatFeed({
    subscribe: (sinceId, signal) => api.users.subscribeChat({ sinceId, historyLimit: 100 }, { signal }),
    probe: (signal) => api.auth.whoAmI({}, { signal, timeoutMs: 10_000 }),
    onMessage: (message) => chat.receive(message),
    onStatus: (status) => chat.setStatus(status),
    isFatal: isSessionError,
    onFatal: onError,
  });
  const online = () => feed.reconnectNow();
  window.addEventListener("online", online);

  // Renew the token at 80% of its lifetime so a long chat does not end mid-sentence.
  let renewal: ReturnType<typeof setTimeout> | undefined;
  const scheduleRenewal = () => {
    const lifetime = session.expiresAt - Date.now();
    renewal = setTimeout(() => {
      api.auth.refreshToken({}).then(
        (res) => {
          session = { token: res.accessToken, expiresAt: Number(res.expiresAt) };
          deps.onSessionRenewed(session);
          scheduleRenewal();
        },
        (error: unknown) => {
          onError(error);
          if (!ended) renewal = setTimeout(scheduleRenewal, 30_000);
        },
      );
    }, Math.max(5_000, Math.min(lifetime * 0.8, 2 ** 31 - 1)));
  };
  scheduleRenewal();

  function dispose() {
    feed.stop();
    clearTimeout(renewal);
    window.removeEventListener("online", online);
  }
  return dispose;
}

function readMarks(key: string): Record<string, string> {
  try {
    const raw = localStorage.getItem(key);
    const parsed: unknown = raw === null ? {} : JSON.parse(raw);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}
