import { ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";

/**
 * Writes a message straight into one Buffer behind `prefix` reserved bytes
 * (room for a gRPC frame header), or returns undefined when it meets a value
 * it does not expect, in which case the caller falls back to toBinary, which
 * then also reports the problem the way protobuf-es does.
 */
export type CompiledEncoder = (message: Message, prefix: number) => Buffer | undefined;

/** proto3 fields without `optional`: written only when not the zero value. */
const IMPLICIT_PRESENCE = 2;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

type Step =
  | { kind: "string"; tag: number; key: string }
  | { kind: "bool"; tag: number; key: string }
  | { kind: "int32"; tag: number; key: string }
  | { kind: "uint32"; tag: number; key: string }
  | { kind: "int64"; tag: number; key: string }
  | { kind: "strings"; tag: number; key: string }
  | { kind: "stringMap"; tag: number; key: string }
  | { kind: "message"; tag: number; key: string; steps: Step[] };

/** The steps for every field in number order, or undefined when a field is outside what this encoder handles. */
function planFor(desc: DescMessage, compiling: Set<DescMessage>): Step[] | undefined {
  // A message that contains itself is left to toBinary.
  if (compiling.has(desc)) return undefined;
  compiling.add(desc);
  const steps: Step[] = [];
  for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const step = stepFor(field, compiling);
    if (step === undefined) return undefined;
    steps.push(step);
  }
  compiling.delete(desc);
  return steps;
}

/** The plan for one field, or undefined when the field is outside what this encoder handles. */
function stepFor(field: DescField, compiling: Set<DescMessage>): Step | undefined {
  if (field.oneof !== undefined) return undefined;
  const tag = (n: number, wire: number) => (n << 3) | wire;
  const key = field.localName;
  switch (field.fieldKind) {
    case "enum":
      return field.presence === IMPLICIT_PRESENCE ? { kind: "int32", tag: tag(field.number, WIRE_VARINT), key } : undefined;
    case "scalar":
      if (field.presence !== IMPLICIT_PRESENCE) return undefined;
      switch (field.scalar) {
        case ScalarType.STRING:
          return { kind: "string", tag: tag(field.number, WIRE_LEN), key };
        case ScalarType.BOOL:
          return { kind: "bool", tag: tag(field.number, WIRE_VARINT), key };
        case ScalarType.INT32:
          return { kind: "int32", tag: tag(field.number, WIRE_VARINT), key };
        case ScalarType.UINT32:
          return { kind: "uint32", tag: tag(field.number, WIRE_VARINT), key };
        case ScalarType.INT64:
        case ScalarType.UINT64:
          // Both are the value's 64-bit two's complement as a varint.
          return field.longAsString ? undefined : { kind: "int64", tag: tag(field.number, WIRE_VARINT), key };
        default:
          return undefined;
      }
    case "list":
      return field.listKind === "scalar" && field.scalar === ScalarType.STRING ? { kind: "strings", tag: tag(field.number, WIRE_LEN), key } : undefined;
    case "map":
      return field.mapKey === ScalarType.STRING && field.mapKind === "scalar" && field.scalar === ScalarType.STRING
        ? { kind: "stringMap", tag: tag(field.number, WIRE_LEN), key }
        : undefined;
    case "message": {
      if (field.delimitedEncoding) return undefined;
      const steps = planFor(field.message, compiling);
      return steps === undefined ? undefined : { kind: "message", tag: tag(field.number, WIRE_LEN), key, steps };
    }
    default:
      return undefined;
  }
}

function varint32Size(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

function varint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

function writeVarint32(buf: Buffer, pos: number, v: number): number {
  if (v < 0) return writeVarint64(buf, pos, BigInt(v));
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeVarint64(buf: Buffer, pos: number, v: bigint): number {
  const u = BigInt.asUintN(64, v);
  let lo = Number(u & 0xffffffffn);
  let hi = Number(u >> 32n);
  // Seven bits at a time across the two 32-bit halves, as protobuf's varint64write does.
  while (hi !== 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

const isInt32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
const isUint32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/**
 * Byte lengths found while sizing, reused in the same order while writing.
 * Encoding is synchronous and never re-entered, so one scratch list serves all.
 */
const lengths: number[] = [];
let nextLength = 0;

/** Total size in bytes of the fields, or -1 for a value of the wrong type or unknown fields to keep. */
function sizeOf(steps: Step[], m: Record<string, unknown>): number {
  if (((m["$unknown"] as unknown[] | undefined)?.length ?? 0) > 0) return -1;
  let total = 0;
  for (const step of steps) {
    const v = m[step.key];
    switch (step.kind) {
      case "string": {
        if (typeof v !== "string") return -1;
        if (v === "") break;
        const n = Buffer.byteLength(v, "utf8");
        lengths.push(n);
        total += varint32Size(step.tag) + varint32Size(n) + n;
        break;
      }
      case "bool":
        if (typeof v !== "boolean") return -1;
        if (v) total += varint32Size(step.tag) + 1;
        break;
      case "int32":
        if (!isInt32(v)) return -1;
        if (v !== 0) total += varint32Size(step.tag) + varint32Size(v);
        break;
      case "uint32":
        if (!isUint32(v)) return -1;
        if (v !== 0) total += varint32Size(step.tag) + varint32Size(v);
        break;
      case "int64":
        if (typeof v !== "bigint") return -1;
        if (v !== 0n) total += varint32Size(step.tag) + varint64Size(v);
        break;
      case "strings": {
        if (!Array.isArray(v)) return -1;
        for (const item of v) {
          if (typeof item !== "string") return -1;
          const n = Buffer.byteLength(item, "utf8");
          lengths.push(n);
          total += varint32Size(step.tag) + varint32Size(n) + n;
        }
        break;
      }
      case "stringMap": {
        if (typeof v !== "object" || v === null) return -1;
        for (const k in v) {
          if (!Object.hasOwn(v, k)) continue;
          const value = (v as Record<string, unknown>)[k];
          if (typeof value !== "string") return -1;
          const kn = Buffer.byteLength(k, "utf8");
          const vn = Buffer.byteLength(value, "utf8");
          // An entry holds the key (field 1) and the value (field 2), both always written.
          const entry = 1 + varint32Size(kn) + kn + 1 + varint32Size(vn) + vn;
          lengths.push(kn, vn, entry);
          total += varint32Size(step.tag) + varint32Size(entry) + entry;
        }
        break;
      }
      case "message": {
        // Message fields have explicit presence: written when set, even when empty.
        if (v === undefined) break;
        if (typeof v !== "object" || v === null) return -1;
        const slot = lengths.length;
        lengths.push(0);
        const n = sizeOf(step.steps, v as Record<string, unknown>);
        if (n < 0) return -1;
        lengths[slot] = n;
        total += varint32Size(step.tag) + varint32Size(n) + n;
        break;
      }
    }
  }
  return total;
}

/** Writes the fields sized by sizeOf, consuming its lengths in the same order. */
function writeFields(steps: Step[], m: Record<string, unknown>, buf: Buffer, pos: number): number {
  for (const step of steps) {
    const v = m[step.key];
    switch (step.kind) {
      case "string": {
        if (v === "") break;
        const n = lengths[nextLength++] as number;
        pos = writeVarint32(buf, writeVarint32(buf, pos, step.tag), n);
        pos += buf.write(v as string, pos, n, "utf8");
        break;
      }
      case "bool":
        if (v === true) {
          pos = writeVarint32(buf, pos, step.tag);
          buf[pos++] = 1;
        }
        break;
      case "int32":
      case "uint32":
        if (v !== 0) pos = writeVarint32(buf, writeVarint32(buf, pos, step.tag), v as number);
        break;
      case "int64":
        if (v !== 0n) pos = writeVarint64(buf, writeVarint32(buf, pos, step.tag), v as bigint);
        break;
      case "strings":
        for (const item of v as string[]) {
          const n = lengths[nextLength++] as number;
          pos = writeVarint32(buf, writeVarint32(buf, pos, step.tag), n);
          pos += buf.write(item, pos, n, "utf8");
        }
        break;
      case "stringMap":
        for (const k in v as object) {
          if (!Object.hasOwn(v as object, k)) continue;
          const kn = lengths[nextLength++] as number;
          const vn = lengths[nextLength++] as number;
          const entry = lengths[nextLength++] as number;
          pos = writeVarint32(buf, writeVarint32(buf, pos, step.tag), entry);
          buf[pos++] = 0x0a;
          pos = writeVarint32(buf, pos, kn);
          pos += buf.write(k, pos, kn, "utf8");
          buf[pos++] = 0x12;
          pos = writeVarint32(buf, pos, vn);
          pos += buf.write((v as Record<string, string>)[k] as string, pos, vn, "utf8");
        }
        break;
      case "message": {
        if (v === undefined) break;
        const n = lengths[nextLength++] as number;
        pos = writeVarint32(buf, writeVarint32(buf, pos, step.tag), n);
        pos = writeFields(step.steps, v as Record<string, unknown>, buf, pos);
        break;
      }
    }
  }
  return pos;
}

/**
 * Builds a binary encoder for a message whose fields are all implicit-presence
 * strings, bools, 32/64-bit integers and enums, repeated strings,
 * string-to-string maps and messages built the same way (like `user.User` and
 * `user.GetUserResponse`); undefined for any other message. It writes fields
 * in number order, zero values left out and map entries with both key and
 * value, exactly as protobuf-es's toBinary does, but without its reflection
 * objects and intermediate chunks.
 */
export function compileEncoder(desc: DescMessage): CompiledEncoder | undefined {
  const steps = planFor(desc, new Set());
  if (steps === undefined) return undefined;
  return (message, prefix) => {
    const m = message as unknown as Record<string, unknown>;
    lengths.length = 0;
    const total = sizeOf(steps, m);
    if (total < 0) return undefined;
    const buf = Buffer.allocUnsafe(prefix + total);
    nextLength = 0;
    writeFields(steps, m, buf, prefix);
    return buf;
  };
}
