import type { User } from "../../../gen/user/user_pb.js";
import type { Api } from "../api.js";
import { h } from "../dom.js";
import { field, formFeedback, valueOf } from "../forms.js";
import { statusLabel } from "../labels.js";

export interface ProfileViewDeps {
  api: Api;
  me: () => User;
  onUpdated(user: User): void;
  onError(error: unknown): void;
}

export interface ProfileView {
  element: HTMLElement;
  /** Fills the form from the current user. */
  reset(): void;
}

/** Edits one's own profile with UpdateUser, sending only the fields that changed. */
export function createProfileView(deps: ProfileViewDeps): ProfileView {
  const username = field("username", "Username", { autocomplete: "username", required: true });
  const email = field("email", "Email", { type: "email", autocomplete: "email", required: true });
  const fullName = field("full_name", "Full name", { autocomplete: "name" });
  const avatarUrl = field("avatar_url", "Avatar URL", { type: "url", autocomplete: "photo", hint: "An http or https address of a picture" });
  const facts = h("p", { class: "hint", "data-testid": "profile-facts" });
  const form = h("form", { class: "card", "data-testid": "profile-form", "aria-labelledby": "profile-title", novalidate: true });
  const feedback = formFeedback(form, [username, email, fullName, avatarUrl]);
  form.append(
    h("h2", { id: "profile-title" }, "Your profile"),
    facts,
    username.row,
    email.row,
    fullName.row,
    avatarUrl.row,
    feedback.summary,
    h("button", { type: "submit", class: "primary" }, "Save changes"),
  );

  const reset = () => {
    const me = deps.me();
    username.input.value = me.username;
    email.input.value = me.email;
    fullName.input.value = me.fullName;
    avatarUrl.input.value = me.avatarUrl;
    facts.textContent = `Status: ${statusLabel(me.status)} · Roles: ${me.roles.join(", ") || "none"} · Member since ${new Date(Number(me.createdAt)).toLocaleDateString()}`;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const me = deps.me();
    const changed = <T extends string>(value: T, old: T) => (value === old ? undefined : value);
    const request = {
      userId: me.id,
      username: changed(valueOf(username), me.username),
      email: changed(valueOf(email), me.email),
      fullName: changed(valueOf(fullName), me.fullName),
      avatarUrl: changed(valueOf(avatarUrl), me.avatarUrl),
    };
    if (Object.values(request).filter((v) => v !== undefined).length === 1) {
      feedback.showSuccess("Nothing to save.");
      return;
    }
    feedback.clear();
    feedback.busy(true);
    deps.api.users
      .updateUser(request)
      .then((res) => {
        if (res.user !== undefined) deps.onUpdated(res.user);
        reset();
        feedback.showSuccess("Saved.");
      })
      .catch((error: unknown) => {
        feedback.showError(error);
        deps.onError(error);
      })
      .finally(() => feedback.busy(false));
  });

  reset();
  return { element: h("section", { class: "profile" }, form), reset };
}
