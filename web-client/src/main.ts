import { Code, ConnectError } from "@connectrpc/connect";
import type { User } from "../../gen/user/user_pb.js";
import { createApi } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { errorText } from "./error-text.js";
import { clearSession, loadSession, saveSession, type StoredSession } from "./session.js";
import { renderAuthView } from "./views/auth-view.js";
import { renderShell } from "./views/shell-view.js";

const root = document.getElementById("app") ?? document.body;
let session = loadSession();
const api = createApi(window.location.origin, () => session?.token);

function signedIn(next: StoredSession, user: User) {
  session = next;
  saveSession(next);
  renderShell(root, {
    api,
    user,
    session: next,
    onSessionRenewed(renewed) {
      session = renewed;
      saveSession(renewed);
    },
    onSignedOut(reason) {
      session = undefined;
      clearSession();
      showAuth(reason);
    },
  });
}

function showAuth(notice?: string) {
  renderAuthView(root, { api, onSignedIn: signedIn, ...(notice === undefined ? {} : { notice }) });
}

/** Resumes the tab's session when its token still works, otherwise shows the sign-in page. */
async function start() {
  const stored = session;
  if (stored === undefined || stored.expiresAt <= Date.now()) {
    session = undefined;
    clearSession();
    showAuth();
    return;
  }
  replaceChildren(root, h("p", { class: "loading", role: "status" }, "Loading…"));
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await api.auth.whoAmI({});
      if (res.user === undefined) throw new Error("the server returned no user");
      signedIn(stored, res.user);
      return;
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.Unavailable && attempt < 5) {
        replaceChildren(root, h("p", { class: "loading", role: "status" }, `${errorText(error).message} Retrying…`));
        await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
        continue;
      }
      session = undefined;
      clearSession();
      showAuth(error instanceof ConnectError && error.code === Code.Unauthenticated ? "Your session has ended. Please sign in again." : errorText(error).message);
      return;
    }
  }
}

void start();
