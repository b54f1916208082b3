import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { UserSchema } from "../../gen/user/user_pb.js";
import { useNodeTextEncoding } from "./text-encoding.js";

const samples = ["", "plain ascii", "Zoë Łukasz 張偉 🚀", "lone \ud800 surrogate", "x".repeat(10_000)];

describe("useNodeTextEncoding", () => {
  it("encodes every string exactly as TextEncoder does, lone surrogates included", () => {
    useNodeTextEncoding();
    // protobuf-es now uses Node's pooled Buffer, not TextEncoder.
    expect(Buffer.isBuffer(getTextEncoding().encodeUtf8("a"))).toBe(true);
    const encoder = new TextEncoder();
    for (const text of samples) {
      expect(Buffer.from(getTextEncoding().encodeUtf8(text)).equals(Buffer.from(encoder.encode(text))), JSON.stringify(text.slice(0, 20))).toBe(true);
    }
  });

  it("keeps protobuf messages round-tripping", () => {
    useNodeTextEncoding();
    const user = create(UserSchema, { id: 7n, username: "zoë", fullName: "張偉 🚀", roles: ["user"], metadata: { team: "Łódź" } });
    const bytes = toBinary(UserSchema, user);
    expect(fromBinary(UserSchema, bytes)).toEqual(user);
  });
});
