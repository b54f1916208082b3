import type { User } from "../../../gen/user/user_pb.js";
import type { Api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { field, formFeedback, valueOf } from "../forms.js";
import type { StoredSession } from "../session.js";

export interface AuthViewDeps {
  api: Api;
  onSignedIn(session: StoredSession, user: User): void;
  /** Shown above the forms, e.g. why the previous session ended. */
  notice?: string;
}

/** Sign in (AuthService.Login) and sign up (anonymous UserService.CreateUser, then Login). */
export function renderAuthView(root: HTMLElement, deps: AuthViewDeps): void {
  const { api } = deps;

  const login = async (username: string, password: string) => {
    const res = await api.auth.login({ username, password });
    if (res.user === undefined) throw new Error("the server returned no user");
    deps.onSignedIn({ token: res.accessToken, expiresAt: Number(res.expiresAt) }, res.user);
  };

  // Sign in.
  const who = field("username", "Username or email", { autocomplete: "username", required: true });
  const secret = field("password", "Password", { type: "password", autocomplete: "current-password", required: true });
  const signInForm = h("form", { class: "card", "data-testid": "signin-form", "aria-labelledby": "signin-title", novalidate: true });
  const signInFeedback = formFeedback(signInForm, [who, secret]);
  signInForm.append(
    h("h2", { id: "signin-title" }, "Sign in"),
    who.row,
    secret.row,
    signInFeedback.summary,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  signInForm.addEventListener("submit", (event) => {
    event.preventDefault();
    signInFeedback.clear();
    signInFeedback.busy(true);
    login(valueOf(who), secret.input.value).catch((error: unknown) => {
      signInFeedback.busy(false);
      signInFeedback.showError(error);
    });
  });

  // Sign up.
  const username = field("username", "Username", { autocomplete: "username", required: true, hint: "3 to 32 of a-z, 0-9, _ . -" });
  const email = field("email", "Email", { type: "email", autocomplete: "email", required: true });
  const password = field("password", "Password", { type: "password", autocomplete: "new-password", required: true });
  const fullName = field("full_name", "Full name", { autocomplete: "name" });
  const signUpForm = h("form", { class: "card", "data-testid": "signup-form", "aria-labelledby": "signup-title", novalidate: true });
  const signUpFeedback = formFeedback(signUpForm, [username, email, password, fullName]);
  signUpForm.append(
    h("h2", { id: "signup-title" }, "Create an account"),
    username.row,
    email.row,
    password.row,
    fullName.row,
    signUpFeedback.summary,
    h("button", { type: "submit", class: "primary" }, "Create account"),
  );
  signUpForm.addEventListener("submit", (event) => {
    event.preventDefault();
    signUpFeedback.clear();
    signUpFeedback.busy(true);
    const name = valueOf(username);
    api.users
      .createUser({ username: name, email: valueOf(email), password: password.input.value, fullName: valueOf(fullName) })
      .then(() => login(name, password.input.value))
      .catch((error: unknown) => {
        signUpFeedback.busy(false);
        signUpFeedback.showError(error);
      });
  });

  // Two panes behind a pair of toggle buttons.
  const showSignIn = h("button", { type: "button", "aria-pressed": "true" }, "Sign in");
  const showSignUp = h("button", { type: "button", "aria-pressed": "false" }, "Create account");
  const select = (signUp: boolean) => {
    signInForm.hidden = signUp;
    signUpForm.hidden = !signUp;
    showSignIn.setAttribute("aria-pressed", String(!signUp));
    showSignUp.setAttribute("aria-pressed", String(signUp));
    (signUp ? username : who).input.focus();
  };
  showSignIn.addEventListener("click", () => select(false));
  showSignUp.addEventListener("click", () => select(true));
  signUpForm.hidden = true;

  replaceChildren(
    root,
    h(
      "main",
      { class: "auth", id: "main" },
      h("h1", {}, "Users chat"),
      deps.notice === undefined ? null : h("p", { class: "notice", role: "status", "data-testid": "auth-notice" }, deps.notice),
      h("div", { class: "toggle", role: "group", "aria-label": "Choose a form" }, showSignIn, showSignUp),
      signInForm,
      signUpForm,
    ),
  );
  who.input.focus();
}
