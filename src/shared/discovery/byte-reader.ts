/**
 * A bounds-checked reader over a datagram body. Every read past the end throws {@link ShortBodyError},
 * which the decoders catch and turn into a refusal: a short body is refused, never read out of range.
 */

/** Thrown by {@link ByteReader} on a read past the end. Internal to the decoders. */
export class ShortBodyError extends Error {}

/** Sequential reads over a buffer. */
export class ByteReader {
  readonly #buffer: Buffer;
  #offset = 0;

  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#buffer.length - this.#offset;
  }

  /** The next `length` bytes (a copy). */
  bytes(length: number): Buffer {
    if (length > this.remaining) throw new ShortBodyError();
    const out = Buffer.from(this.#buffer.subarray(this.#offset, this.#offset + length));
    this.#offset += length;
    return out;
  }

  /** An unsigned byte. */
  u8(): number {
    return this.bytes(1)[0] as number;
  }

  /** An unsigned 16-bit big-endian integer. */
  u16(): number {
    return this.bytes(2).readUInt16BE(0);
  }

  /** An unsigned 64-bit big-endian integer that must be a safe JavaScript integer. */
  u64(): number {
    const value = this.bytes(8).readBigUInt64BE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ShortBodyError();
    return Number(value);
  }
}

/** Writes an unsigned 64-bit big-endian integer. */
export function u64(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}
