import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

/**
 * protobuf-es encodes every string field with TextEncoder.encode, which in
 * Node allocates a new ArrayBuffer per call: a user has half a dozen
 * strings, and a ListUsers stream of 10,000 users spent about a tenth of its
 * time there. Buffer.from takes short strings from Node's pooled slab and
 * produces the same bytes (lone surrogates become U+FFFD in both).
 */
export function useNodeTextEncoding(): void {
  const base = getTextEncoding();
  configureTextEncoding({
    encodeUtf8: (text: string) => Buffer.from(text, "utf8"),
    decodeUtf8: base.decodeUtf8,
    checkUtf8: base.checkUtf8,
  });
}
