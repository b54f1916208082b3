/**
 * Minimal Connect-protocol JSON unary client over fetch (HTTP/1.1), used for
 * Login and probes of the Connect path without pulling in the full client stack.
 */

export class ConnectError extends Error {
  constructor(readonly httpStatus: number, readonly code: string, message: string) {
    super(message);
  }
}

/** POSTs a JSON request to baseUrl + "/" + procedure and returns the decoded JSON reply. */
export async function connectUnary<T>(baseUrl: string, procedure: string, body: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json", "connect-protocol-version": "1" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}/${procedure.replace(/^\//, "")}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    throw new ConnectError(response.status, "unknown", `${procedure}: non-JSON reply (HTTP ${response.status}): ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const err = parsed as { code?: string; message?: string };
    throw new ConnectError(response.status, err.code ?? "unknown", `${procedure}: HTTP ${response.status} ${err.code ?? ""} ${err.message ?? ""}`.trim());
  }
  return parsed as T;
}
