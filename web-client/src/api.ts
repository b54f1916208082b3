import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "../../gen/user/auth_pb.js";
import { UserService } from "../../gen/user/user_pb.js";

export interface Api {
  users: Client<typeof UserService>;
  auth: Client<typeof AuthService>;
}

/**
 * Clients over the Connect protocol straight to the server (no proxy); the
 * token is read on every call so signing in or out needs no new transport.
 */
export function createApi(baseUrl: string, currentToken: () => string | undefined): Api {
  const bearer: Interceptor = (next) => async (req) => {
    const token = currentToken();
    if (token !== undefined) req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [bearer] });
  return { users: createClient(UserService, transport), auth: createClient(AuthService, transport) };
}
