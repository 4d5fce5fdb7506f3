/**
 * A tiny DNS server for pebble's `-dnsserver`: on 127.0.0.1 (UDP, port 0) it answers every A question
 * with 127.0.0.1 and every other question with no answer, so the names the tests order certificates for
 * (`*.example.test`) lead pebble's HTTP-01 validation to the proxy under test on loopback.
 */
import { type Socket, createSocket } from 'node:dgram';

/** A running responder. */
export interface DnsResponder {
  readonly port: number;
  close(): Promise<void>;
}

const TYPE_A = 1;

/** Builds the answer to one query (RFC 1035 section 4.1), or undefined for a packet that is not one. */
function answer(query: Buffer): Buffer | undefined {
  if (query.length < 17) return undefined;
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) offset += (query[offset] as number) + 1;
  offset += 1;
  if (offset + 4 > query.length) return undefined;
  const type = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180, 2); // response, recursion desired and available, no error
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(type === TYPE_A ? 1 : 0, 6);
  // Name pointer to the question, type A, class IN, TTL 60, 4 bytes: 127.0.0.1.
  const record = type === TYPE_A ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
  return Buffer.concat([header, question, record]);
}

/** Starts the responder. */
export async function startDnsResponder(): Promise<DnsResponder> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    const reply = answer(message);
    if (reply !== undefined) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
