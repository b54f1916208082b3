import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import * as commonPb from "../../gen/common/error_pb.js";
import * as authPb from "../../gen/user/auth_pb.js";
import * as userPb from "../../gen/user/user_pb.js";
import { compileEncoder } from "./compiled-encoder.js";

/** A small deterministic generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const strings = ["", "a", "alice", "héllo wörld", "日本語のテキスト", "😀 emoji", "lone \uD800 surrogate", "x".repeat(300), "1", "0", "b"];
const int64s = [0n, 1n, -1n, 127n, 128n, 16_384n, 1_700_000_000_000n, 2n ** 63n - 1n, -(2n ** 63n), -300n];
const uint64s = [0n, 1n, 128n, 2n ** 32n, 2n ** 64n - 1n];
const int32s = [0, 1, -1, 127, 128, 300, 2 ** 31 - 1, -(2 ** 31)];
const uint32s = [0, 1, 127, 128, 2 ** 32 - 1];
const enums = [0, 1, 2, 3, 4, 99, -5];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)] as T;
}

function scalarValue(r: () => number, type: ScalarType | undefined): unknown {
  switch (type) {
    case ScalarType.STRING:
      return pick(r, strings);
    case ScalarType.BOOL:
      return r() < 0.5;
    case ScalarType.INT64:
      return pick(r, int64s);
    case ScalarType.UINT64:
      return pick(r, uint64s);
    case ScalarType.INT32:
      return pick(r, int32s);
    case ScalarType.UINT32:
      return pick(r, uint32s);
    default:
      throw new Error(`no generator for scalar ${type}`);
  }
}

/** A random message of the schema, every field given a value from edge-heavy pools. */
function randomMessage(r: () => number, desc: DescMessage, depth = 0): Message {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields as DescField[]) {
    switch (field.fieldKind) {
      case "scalar":
        init[field.localName] = scalarValue(r, field.scalar);
        break;
      case "enum":
        init[field.localName] = pick(r, enums);
        break;
      case "list":
        init[field.localName] = Array.from({ length: Math.floor(r() * 4) }, () => scalarValue(r, field.scalar));
        break;
      case "map": {
        const map: Record<string, unknown> = {};
        for (let i = Math.floor(r() * 4); i > 0; i--) map[pick(r, strings)] = scalarValue(r, field.scalar);
        init[field.localName] = map;
        break;
      }
      case "message":
        if (depth < 3 && r() < 0.8) init[field.localName] = randomMessage(r, field.message, depth + 1);
        break;
    }
  }
  return create(desc, init as never) as Message;
}

const allSchemas = [userPb, authPb, commonPb].flatMap((file) =>
  Object.entries(file)
    .filter(([name, value]) => name.endsWith("Schema") && (value as { kind?: string }).kind === "message")
    .map(([, value]) => value as DescMessage),
);

describe("compileEncoder", () => {
  it("compiles the hot reply messages and refuses messages with fields it does not handle", () => {
    for (const desc of [userPb.UserSchema, userPb.GetUserResponseSchema, userPb.ChatMessageSchema, userPb.CreateUserResponseSchema]) {
      expect(compileEncoder(desc), desc.typeName).toBeTypeOf("function");
    }
    // A repeated message field (the violations of a ValidationError) is left to toBinary.
    expect(compileEncoder(commonPb.ValidationErrorSchema)).toBeUndefined();
    expect(compileEncoder(userPb.BatchCreateUsersResponseSchema)).toBeUndefined();
  });

  const compiled = allSchemas.flatMap((desc) => {
    const encoder = compileEncoder(desc);
    return encoder === undefined ? [] : [{ desc, encoder }];
  });

  it("covers most of the contract's messages", () => {
    expect(compiled.length).toBeGreaterThanOrEqual(10);
  });

  it.each(compiled.map((c) => [c.desc.typeName, c] as const))("writes %s byte for byte as toBinary does, behind any prefix", (_name, { desc, encoder }) => {
    const r = prng(desc.typeName.length * 7919);
    for (let i = 0; i < 300; i++) {
      const message = randomMessage(r, desc);
      const expected = Buffer.from(toBinary(desc, message));
      const plain = encoder(message, 0);
      expect(plain, `message ${i}`).toEqual(expected);
      const framed = encoder(message, 5) as Buffer;
      expect(framed.subarray(5)).toEqual(expected);
      expect(fromBinary(desc, framed.subarray(5))).toEqual(fromBinary(desc, expected));
    }
    // The zero message is empty on the wire.
    expect(encoder(create(desc) as Message, 0)).toEqual(Buffer.alloc(0));
  });

  it("hands back to toBinary a message with unknown fields, at any depth, or a value of the wrong type", () => {
    const encode = compileEncoder(userPb.GetUserResponseSchema)!;
    const user = create(userPb.UserSchema, { id: 7n, username: "u" });
    const withUnknown = fromBinary(userPb.UserSchema, Buffer.concat([Buffer.from(toBinary(userPb.UserSchema, user)), Buffer.from([0xa8, 0x1f, 0x01])]));
    expect(withUnknown.$unknown).toHaveLength(1);
    expect(compileEncoder(userPb.UserSchema)!(withUnknown, 0)).toBeUndefined();
    expect(encode(create(userPb.GetUserResponseSchema, { user: withUnknown, found: true }), 0)).toBeUndefined();
    expect(encode(create(userPb.GetUserResponseSchema, { user, found: true }), 0)).toEqual(
      Buffer.from(toBinary(userPb.GetUserResponseSchema, create(userPb.GetUserResponseSchema, { user, found: true }))),
    );
    const wrong = create(userPb.UserSchema, { id: 1n });
    (wrong as unknown as Record<string, unknown>)["username"] = 42;
    expect(compileEncoder(userPb.UserSchema)!(wrong, 0)).toBeUndefined();
    (wrong as unknown as Record<string, unknown>)["username"] = "ok";
    (wrong as unknown as Record<string, unknown>)["createdAt"] = 5;
    expect(compileEncoder(userPb.UserSchema)!(wrong, 0)).toBeUndefined();
    (wrong as unknown as Record<string, unknown>)["createdAt"] = 5n;
    (wrong as unknown as Record<string, unknown>)["status"] = 2 ** 40;
    expect(compileEncoder(userPb.UserSchema)!(wrong, 0)).toBeUndefined();
  });
});
