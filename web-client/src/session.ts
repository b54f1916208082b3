/** The signed-in session as this tab keeps it; sessionStorage ends it with the tab, as the issue asks. */
export interface StoredSession {
  token: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

const KEY = "users.session";

/** Reads the session of this tab, or undefined when there is none or it is unreadable. */
export function loadSession(storage: Storage = sessionStorage): StoredSession | undefined {
  try {
    const raw = storage.getItem(KEY);
    if (raw === null) return undefined;
    const parsed = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof parsed.token !== "string" || typeof parsed.expiresAt !== "number") return undefined;
    return { token: parsed.token, expiresAt: parsed.expiresAt };
  } catch {
    return undefined;
  }
}

export function saveSession(session: StoredSession, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
