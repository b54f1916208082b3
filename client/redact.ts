/** What replaces a secret in debug output. */
export const REDACTED = "[redacted]";

/** Field names (proto or JSON spelling) whose values are secrets wherever they appear. */
const secretKey = /^(password|passwordHash|password_hash|accessToken|access_token|refreshToken|refresh_token|token|secret|jwtSecret|jwt_secret)$/i;

/** Headers that carry credentials. */
const secretHeaders = new Set(["authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"]);

/** A copy of a JSON value with every secret field replaced, at any depth. */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = secretKey.test(key) && inner !== "" ? REDACTED : redactJson(inner);
    }
    return out;
  }
  return value;
}

/** Headers as a plain object with credentials replaced; the scheme of an authorization header stays visible. */
export function redactHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    if (!secretHeaders.has(key)) {
      out[key] = value;
      return;
    }
    const scheme = /^(\w+)\s/.exec(value)?.[1];
    out[key] = key === "authorization" && scheme !== undefined ? `${scheme} ${REDACTED}` : REDACTED;
  });
  return out;
}
