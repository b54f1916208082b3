import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/user/auth_pb.js";
import { UserService } from "../../gen/user/user_pb.js";

export type Protocol = "grpc" | "grpc-web" | "connect";
export const protocols: Protocol[] = ["grpc", "grpc-web", "connect"];

/** A connect-node transport of the given protocol; gRPC always runs over HTTP/2, the others over HTTP/1.1 unless asked. */
export function transportFor(protocol: Protocol, baseUrl: string, options: { token?: string; httpVersion?: "1.1" | "2"; binary?: boolean } = {}): Transport {
  const interceptors: Interceptor[] = [];
  if (options.token !== undefined) {
    const token = options.token;
    interceptors.push((next) => async (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    });
  }
  const common = { baseUrl, interceptors, useBinaryFormat: options.binary ?? protocol !== "connect" };
  if (protocol === "grpc") return createGrpcTransport({ ...common });
  const httpVersion = options.httpVersion ?? "1.1";
  if (protocol === "grpc-web") return createGrpcWebTransport({ ...common, httpVersion });
  return createConnectTransport({ ...common, httpVersion });
}

export interface Clients {
  users: Client<typeof UserService>;
  auth: Client<typeof AuthService>;
}

export function clientsFor(protocol: Protocol, baseUrl: string, options: Parameters<typeof transportFor>[2] = {}): Clients {
  const transport = transportFor(protocol, baseUrl, options);
  return { users: createClient(UserService, transport), auth: createClient(AuthService, transport) };
}

/** Logs in over Connect and returns the access token. */
export async function loginToken(baseUrl: string, username: string, password: string): Promise<string> {
  const { auth } = clientsFor("connect", baseUrl);
  const res = await auth.login({ username, password });
  return res.accessToken;
}
