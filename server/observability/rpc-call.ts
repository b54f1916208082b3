/**
 * How logging, metrics and tracing name a call, so the three agree on the
 * procedure, protocol, stream kind and status code of every RPC.
 */
import { Code, ConnectError, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";

/** The wire protocol a call arrived on. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect";

/** go-grpc-prometheus's grpc_type label values. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** One RPC as interceptors see it. */
export type RpcRequest = UnaryRequest | StreamRequest;

const grpcTypes: Readonly<Record<string, GrpcType>> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The method kind in go-grpc-prometheus's words. */
export function grpcTypeOf(req: RpcRequest): GrpcType {
  return grpcTypes[req.method.methodKind] ?? "unary";
}

/** "package.Service/Method", the name every dashboard and log query uses. */
export function procedureOf(req: RpcRequest): string {
  return `${req.service.typeName}/${req.method.name}`;
}

/**
 * The protocol, told apart by content-type: application/grpc-web… is
 * gRPC-Web, application/grpc… is gRPC, and anything else that reached a
 * Connect route (application/json, application/proto, application/connect+…,
 * or a GET without a body) is the Connect protocol.
 */
export function protocolOf(req: RpcRequest): RpcProtocol {
  const contentType = req.header.get("content-type");
  if (contentType === null) return "connect";
  const lower = contentType.toLowerCase();
  if (lower.startsWith("application/grpc-web")) return "grpc-web";
  if (lower.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Go's codes.Code.String() for each code, which go-grpc-prometheus writes into grpc_code. */
export function codeName(code: Code | 0): string {
  return code === 0 ? "OK" : (Code[code] ?? "Unknown");
}

/** The status code a failure reaches the caller with; anything that is not a ConnectError becomes Unknown, as in connect-es. */
export function codeOf(error: unknown): Code {
  return error instanceof ConnectError ? error.code : ConnectError.from(error).code;
}

/** Names of every status, in code order, for tests and dashboards. */
export const allCodeNames: readonly string[] = ["OK", ...Object.values(Code).filter((v): v is string => typeof v === "string")];
