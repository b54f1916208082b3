import { MessageType, type ChatMessage } from "../../../gen/user/user_pb.js";
import type { Api } from "../api.js";
import type { FeedStatus } from "../chat-feed.js";
import { ChatStore, conversationOf, dmKey, dmPeer, ROOM, type ConversationKey } from "../chat-store.js";
import { formatTime, h, replaceChildren } from "../dom.js";
import { errorText } from "../error-text.js";
import type { NameBook } from "../name-book.js";

export interface ChatViewDeps {
  api: Api;
  store: ChatStore;
  names: NameBook;
  /** Called after each change of the unread total, e.g. for the tab title and nav badge. */
  onUnreadChange(total: number): void;
  /** Reports a failed call that has no better place on screen, and whether it ended the session. */
  onError(error: unknown): void;
}

export interface ChatView {
  element: HTMLElement;
  /** A message from the feed or from a send response; duplicates are ignored. */
  receive(message: ChatMessage): void;
  /** Whether the chat tab is on screen: only a viewed conversation counts as read. */
  setVisible(visible: boolean): void;
  /** Opens (or starts) the direct conversation with a user. */
  openDirect(userId: bigint): void;
  setStatus(status: FeedStatus): void;
}

/** The chat room and direct conversations: history and live messages, unread counts, a composer, and the connection state. */
export function createChatView(deps: ChatViewDeps): ChatView {
  const { api, store, names } = deps;
  const me = store.me;
  let current: ConversationKey = ROOM;
  let visible = true;

  const status = h("p", { class: "connection", role: "status", "data-testid": "connection", "data-state": "connecting" }, "Connecting…");
  const list = h("nav", { class: "conversations", "aria-label": "Conversations", "data-testid": "conversations" });
  const title = h("h2", { id: "conversation-title", "data-testid": "conversation-title" });
  const log = h("ol", { class: "messages", role: "log", "aria-labelledby": "conversation-title", "data-testid": "messages", tabindex: 0 });
  const input = h("textarea", { id: "composer-input", name: "content", rows: 2, maxlength: 4000, required: true, "data-testid": "composer-input" });
  const composerLabel = h("label", { for: "composer-input" }, "Message");
  const sendError = h("p", { class: "form-summary error", "data-testid": "send-error", "aria-live": "assertive", hidden: true });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Send");
  const composer = h("form", { class: "composer", "data-testid": "composer", novalidate: true }, composerLabel, input, sendButton, sendError);

  const element = h(
    "section",
    { class: "chat", "aria-label": "Chat", "data-testid": "chat" },
    h("div", { class: "chat-side" }, status, list),
    h("div", { class: "chat-main" }, title, log, composer),
  );

  const titleOf = (key: ConversationKey) => {
    const peer = dmPeer(key);
    return peer === undefined ? "Everyone" : names.label(peer);
  };

  /** Rebuilds the conversation list; the button that had the keyboard focus gets it back. */
  const renderList = () => {
    const focusedKey = list.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset["key"] : undefined;
    let total = 0;
    let refocus: HTMLButtonElement | undefined;
    const items = store.conversations().map((c) => {
      const seen = c.key === current && visible;
      const unread = seen ? 0 : c.unread;
      total += unread;
      const label = titleOf(c.key);
      const button = h(
        "button",
        {
          type: "button",
          "data-testid": c.key === ROOM ? "conversation-room" : `conversation-${c.key.replace(":", "-")}`,
          "data-key": c.key,
          "aria-current": c.key === current ? "true" : undefined,
          "aria-label": unread > 0 ? `${label}, ${unread} unread` : label,
          onclick: () => select(c.key),
        },
        h("span", { class: "name" }, c.key === ROOM ? "# " : "@ ", label),
        unread > 0 ? h("span", { class: "badge", "data-testid": "unread", "aria-hidden": "true" }, String(unread)) : null,
      );
      if (c.key === focusedKey) refocus = button;
      return h("li", {}, button);
    });
    replaceChildren(list, h("ul", {}, ...items));
    refocus?.focus();
    deps.onUnreadChange(total);
  };

  const messageItem = (m: ChatMessage) => {
    const own = m.fromUserId === me;
    const when = new Date(Number(m.timestamp));
    return h(
      "li",
      {
        class: own ? "message own" : "message",
        "data-testid": "message",
        "data-id": m.id.toString(),
        "data-own": String(own),
        "data-from": m.fromUsername,
      },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "sender" }, own ? `${m.fromUsername} (you)` : m.fromUsername),
        " ",
        h("time", { datetime: when.toISOString(), title: when.toLocaleString() }, formatTime(m.timestamp)),
        m.type === MessageType.SYSTEM ? h("span", { class: "tag" }, " system") : null,
      ),
      h("p", { class: "content" }, m.content),
    );
  };

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  const scrollDown = () => {
    log.scrollTop = log.scrollHeight;
  };

  const renderConversation = () => {
    title.textContent = titleOf(current);
    composerLabel.textContent = current === ROOM ? "Message to everyone" : `Message to ${titleOf(current)}`;
    const messages = store.messages(current);
    replaceChildren(
      log,
      ...(messages.length === 0 ? [h("li", { class: "empty" }, "No messages yet.")] : messages.map(messageItem)),
    );
    scrollDown();
  };

  const markRead = () => {
    if (visible) store.markRead(current);
  };

  function select(key: ConversationKey) {
    current = key;
    store.open(key);
    renderConversation();
    markRead();
    renderList();
    input.focus();
  }

  names.onChange(() => {
    renderList();
    title.textContent = titleOf(current);
    composerLabel.textContent = current === ROOM ? "Message to everyone" : `Message to ${titleOf(current)}`;
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = input.value;
    if (content.trim() === "") {
      input.focus();
      return;
    }
    sendError.hidden = true;
    sendButton.disabled = true;
    const toUserId = dmPeer(current) ?? 0n;
    api.users
      .sendChatMessage({ toUserId, content, type: MessageType.TEXT })
      .then((res) => {
        input.value = "";
        if (res.message !== undefined) view.receive(res.message);
      })
      .catch((error: unknown) => {
        sendError.textContent = `Not sent: ${errorText(error).message}`;
        sendError.hidden = false;
        deps.onError(error);
      })
      .finally(() => {
        sendButton.disabled = false;
        input.focus();
      });
  });
  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  const view: ChatView = {
    element,
    receive(message) {
      if (!store.add(message)) return;
      names.learn(message.fromUserId, message.fromUsername);
      const key = conversationOf(message, me);
      if (key === current) {
        const stick = nearBottom() || message.fromUserId === me;
        log.querySelector(".empty")?.remove();
        const item = messageItem(message);
        const after = [...log.children].reverse().find((li) => BigInt((li as HTMLElement).dataset["id"] ?? "0") < message.id);
        if (after === undefined) log.prepend(item);
        else after.after(item);
        if (stick) scrollDown();
        markRead();
      }
      const peer = dmPeer(key);
      if (peer !== undefined) names.want(peer);
      renderList();
    },
    setVisible(on) {
      visible = on;
      if (on) {
        markRead();
        scrollDown();
      }
      renderList();
    },
    openDirect(userId) {
      if (userId === me) {
        select(ROOM);
        return;
      }
      names.want(userId);
      select(dmKey(userId));
    },
    setStatus(s) {
      status.dataset["state"] = s.state;
      status.textContent =
        s.state === "connected"
          ? "Connected"
          : s.state === "connecting"
            ? "Connecting…"
            : s.state === "stopped"
              ? "Disconnected"
              : s.retryInMs !== undefined
                ? `Connection lost. Reconnecting in ${Math.ceil(s.retryInMs / 1000)} s…`
                : "Connection lost. Reconnecting…";
    },
  };

  renderConversation();
  renderList();
  return view;
}
