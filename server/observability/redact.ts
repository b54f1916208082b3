/** What replaces a secret in a log line. */
export const REDACTED = "[redacted]";

/** A key names a secret when, ignoring case, "_" and "-", it contains one of these words. */
const secretWords = ["password", "token", "secret", "authorization", "cookie", "apikey"];

/** True for keys such as password, accessToken, password_hash, Authorization or Set-Cookie. */
export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[_-]/g, "");
  return secretWords.some((word) => normalized.includes(word));
}

/**
 * A copy of a JSON value with every secret-named field replaced, at any
 * depth, so debug logs can show message bodies without leaking credentials.
 */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = isSecretKey(key) ? REDACTED : redactJson(inner);
  return out;
}

/** Headers as a plain object with secret-named headers replaced. */
export function redactHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = isSecretKey(key) ? REDACTED : value;
  });
  return out;
}
