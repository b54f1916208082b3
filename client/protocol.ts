/** The wire protocols the service answers on its one port; a client picks one. */
export type Protocol = "grpc" | "connect" | "grpc-web";

export const protocols: readonly Protocol[] = ["grpc", "connect", "grpc-web"];

/** Parses a protocol name as users type it (USERS_PROTOCOL, --protocol), or throws naming the accepted values. */
export function parseProtocol(value: string): Protocol {
  const normalized = value.trim().toLowerCase().replace("_", "-");
  const aliases: Record<string, Protocol> = { grpc: "grpc", connect: "connect", "grpc-web": "grpc-web", grpcweb: "grpc-web" };
  const protocol = aliases[normalized];
  if (protocol === undefined) throw new RangeError(`unknown protocol "${value}": use grpc, connect or grpc-web`);
  return protocol;
}
