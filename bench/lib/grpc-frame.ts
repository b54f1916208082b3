/**
 * gRPC length-prefixed message framing (1 flag byte + 4-byte big-endian
 * length), shared by the raw server, the raw client and the h2load body file.
 */

/** Wraps one serialized message in a gRPC frame (uncompressed). */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Incrementally splits a byte stream into gRPC frames, whatever the chunking. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds a chunk and calls onFrame for every complete message it completes. */
  push(chunk: Buffer, onFrame: (message: Buffer, flags: number) => void): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (buf.length - at >= 5) {
      const len = buf.readUInt32BE(at + 1);
      if (buf.length - at < 5 + len) break;
      onFrame(buf.subarray(at + 5, at + 5 + len), buf[at] ?? 0);
      at += 5 + len;
    }
    buf = buf.subarray(at);
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  /** True when bytes of an unfinished frame are still buffered. */
  get hasPartial(): boolean {
    return this.pending.length > 0;
  }
}
