import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../domain/types.js";

/** The authenticated caller, set by the auth interceptor; undefined on anonymous public calls. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "the authenticated caller" });

/** The request id, taken from x-request-id or generated; echoed to the caller and logged. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/** The client's network address, for per-address limits on anonymous calls. */
export const clientAddressKey = createContextKey<string>("unknown", { description: "client address" });
