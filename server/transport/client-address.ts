import proxyAddr from "@fastify/proxy-addr";

/** Finds the client's address for a call: the TCP peer, or the X-Forwarded-For entry a trusted proxy vouches for. */
export type ClientAddressResolver = (peerAddress: string | undefined, forwardedFor: string | string[] | undefined) => string;

/**
 * Resolves addresses the way Fastify does for its `trustProxy` option, so a
 * call gets the same client address whichever path serves it.
 */
export function createClientAddressResolver(trustProxy: boolean | string): ClientAddressResolver {
  if (trustProxy === false) return (peer) => peer ?? "unknown";
  const trust: (address: string, hop: number) => boolean =
    trustProxy === true ? () => true : proxyAddr.compile(trustProxy.split(",").map((s) => s.trim()).filter(Boolean));
  return (peer, forwardedFor) => {
    if (peer === undefined) return "unknown";
    const headers = forwardedFor === undefined ? {} : { "x-forwarded-for": Array.isArray(forwardedFor) ? forwardedFor.join(", ") : forwardedFor };
    const all = proxyAddr.all({ headers, socket: { remoteAddress: peer }, connection: { remoteAddress: peer } } as never, trust);
    return all[all.length - 1] ?? peer;
  };
}
