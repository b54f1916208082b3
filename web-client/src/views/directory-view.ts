import { Code, ConnectError } from "@connectrpc/connect";
import { UserStatus, type User } from "../../../gen/user/user_pb.js";
import type { Api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { errorText } from "../error-text.js";
import { field, formFeedback, valueOf } from "../forms.js";
import { statusLabel } from "../labels.js";

export interface DirectoryViewDeps {
  api: Api;
  me: () => User;
  isAdmin: boolean;
  onMessageUser(user: User): void;
  onUserSeen(user: User): void;
  onError(error: unknown): void;
}

export interface DirectoryView {
  element: HTMLElement;
  /** Loads the current page again (first visit, after a change). */
  refresh(): void;
}

const PAGE_SIZE = 20;

/** The user directory: rows appear as the ListUsers stream delivers them; search, status filter, paging and, for admins, user management. */
export function createDirectoryView(deps: DirectoryViewDeps): DirectoryView {
  const { api } = deps;
  let page = 1;
  let loading: AbortController | undefined;

  const search = h("input", { id: "directory-search", type: "search", name: "search", autocomplete: "off", "data-testid": "directory-search" });
  const statusOptions = [
    { value: String(UserStatus.UNSPECIFIED), label: "Any (not deleted)" },
    { value: String(UserStatus.ACTIVE), label: "Active" },
    { value: String(UserStatus.INACTIVE), label: "Inactive" },
    { value: String(UserStatus.SUSPENDED), label: "Suspended" },
    ...(deps.isAdmin ? [{ value: String(UserStatus.DELETED), label: "Deleted" }] : []),
  ];
  const status = h(
    "select",
    { id: "directory-status", name: "status", "data-testid": "directory-status" },
    ...statusOptions.map((o) => h("option", { value: o.value }, o.label)),
  );
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find users" },
    h("div", { class: "field" }, h("label", { for: "directory-search" }, "Search"), search),
    h("div", { class: "field" }, h("label", { for: "directory-status" }, "Status"), status),
    h("button", { type: "submit" }, "Search"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    load();
  });
  status.addEventListener("change", () => {
    page = 1;
    load();
  });

  const summary = h("p", { class: "directory-summary", role: "status", "data-testid": "directory-summary" });
  const body = h("tbody", { "data-testid": "directory-rows" });
  const table = h(
    "table",
    { class: "directory" },
    h("caption", { class: "visually-hidden" }, "Users"),
    h(
      "thead",
      {},
      h("tr", {}, ...["Username", "Full name", "Email", "Status", "Actions"].map((t) => h("th", { scope: "col" }, t))),
    ),
    body,
  );
  const previous = h("button", { type: "button", "data-testid": "page-previous" }, "Previous page");
  const next = h("button", { type: "button", "data-testid": "page-next" }, "Next page");
  const pageLabel = h("span", { "data-testid": "page-number", "aria-live": "polite" });
  previous.addEventListener("click", () => {
    if (page > 1) {
      page--;
      load();
    }
  });
  next.addEventListener("click", () => {
    page++;
    load();
  });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, previous, pageLabel, next);

  const element = h(
    "section",
    { class: "people", "aria-labelledby": "people-title", "data-testid": "directory" },
    h("h2", { id: "people-title" }, "People"),
    filters,
    deps.isAdmin ? createUserForm() : null,
    summary,
    table,
    pager,
  );

  function row(user: User): HTMLTableRowElement {
    const self = user.id === deps.me().id;
    const actions = h("td", { class: "actions" });
    if (!self && user.status !== UserStatus.DELETED) {
      actions.append(h("button", { type: "button", onclick: () => deps.onMessageUser(user) }, "Message ", h("span", { class: "visually-hidden" }, user.username)));
    }
    if (deps.isAdmin && !self && user.status !== UserStatus.DELETED) {
      const suspended = user.status === UserStatus.SUSPENDED;
      actions.append(
        h(
          "button",
          {
            type: "button",
            "data-testid": suspended ? "activate-user" : "suspend-user",
            onclick: () => change(() => api.users.updateUser({ userId: user.id, status: suspended ? UserStatus.ACTIVE : UserStatus.SUSPENDED })),
          },
          suspended ? "Activate " : "Suspend ",
          h("span", { class: "visually-hidden" }, user.username),
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            "data-testid": "delete-user",
            onclick: () => {
              if (window.confirm(`Delete ${user.username}? They can no longer sign in.`)) {
                change(() => api.users.deleteUser({ userId: user.id, softDelete: true }));
              }
            },
          },
          "Delete ",
          h("span", { class: "visually-hidden" }, user.username),
        ),
      );
    }
    return h(
      "tr",
      { "data-testid": "user-row", "data-username": user.username, "data-user-id": user.id.toString() },
      h("th", { scope: "row" }, user.username, self ? " (you)" : ""),
      h("td", {}, user.fullName),
      h("td", {}, user.email),
      h("td", { "data-testid": "user-status" }, statusLabel(user.status)),
      actions,
    );
  }

  function change(call: () => Promise<unknown>) {
    call().then(
      () => load(),
      (error: unknown) => {
        summary.textContent = errorText(error).message;
        deps.onError(error);
      },
    );
  }

  function load() {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    replaceChildren(body);
    summary.textContent = "Loading…";
    pageLabel.textContent = `Page ${page}`;
    previous.disabled = page <= 1;
    next.disabled = true;
    let count = 0;
    void (async () => {
      try {
        const stream = api.users.listUsers(
          { page, pageSize: PAGE_SIZE, search: search.value.trim(), status: Number(status.value) as UserStatus, sortBy: "username" },
          { signal: controller.signal },
        );
        for await (const user of stream) {
          count++;
          deps.onUserSeen(user);
          body.append(row(user));
        }
        if (controller.signal.aborted) return;
        summary.textContent = count === 0 ? "No users match." : `${count} user${count === 1 ? "" : "s"} on page ${page}.`;
        next.disabled = count < PAGE_SIZE;
      } catch (error) {
        if (controller.signal.aborted || (error instanceof ConnectError && error.code === Code.Canceled)) return;
        summary.textContent = errorText(error).message;
        next.disabled = count < PAGE_SIZE;
        deps.onError(error);
      }
    })();
  }

  function createUserForm(): HTMLElement {
    const username = field("username", "Username", { required: true });
    const email = field("email", "Email", { type: "email", required: true });
    const password = field("password", "Password", { type: "password", autocomplete: "new-password", required: true });
    const fullName = field("full_name", "Full name");
    const role = field("roles", "Role", {
      value: "user",
      options: [
        { value: "user", label: "User" },
        { value: "admin", label: "Admin" },
      ],
    });
    const form = h("form", { class: "card", "data-testid": "create-user-form", novalidate: true });
    const feedback = formFeedback(form, [username, email, password, fullName, role]);
    form.append(username.row, email.row, password.row, fullName.row, role.row, feedback.summary, h("button", { type: "submit", class: "primary" }, "Create user"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      feedback.clear();
      feedback.busy(true);
      api.users
        .createUser({
          username: valueOf(username),
          email: valueOf(email),
          password: password.input.value,
          fullName: valueOf(fullName),
          roles: role.input.value === "admin" ? ["user", "admin"] : ["user"],
        })
        .then((res) => {
          feedback.showSuccess(`Created ${res.user?.username ?? "the user"}.`);
          form.reset();
          load();
        })
        .catch((error: unknown) => {
          feedback.showError(error);
          deps.onError(error);
        })
        .finally(() => feedback.busy(false));
    });
    return h("details", { class: "admin-create" }, h("summary", {}, "Add a user"), form);
  }

  return { element, refresh: load };
}
