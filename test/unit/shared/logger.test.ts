import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../../src/shared/logger.js';

function capture(): { stream: Writable; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, lines: () => chunks.join('') };
}

describe('createLogger', () => {
  it('redacts authorization headers, tokens and private key material', () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream }).child({ component: 'test' });
    logger.info({
      headers: { authorization: 'Bearer SECRET-TOKEN-1' },
      token: 'SECRET-TOKEN-2',
      jwk: { kty: 'OKP', d: 'SECRET-D' },
      privateKey: 'SECRET-PEM',
    }, 'hello');
    const text = out.lines();
    expect(text).toContain('"component":"test"');
    expect(text).not.toMatch(/SECRET/);
    expect(text).toContain('[redacted]');
  });

  it('honours the level', () => {
    const out = capture();
    const logger = createLogger({ level: 'warn', destination: out.stream });
    logger.info('quiet');
    logger.warn('loud');
    expect(out.lines()).not.toContain('quiet');
    expect(out.lines()).toContain('loud');
  });

  it('pretty format: one human line per event with level, component and message, still redacted, no colours off a terminal', () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream, format: 'pretty' }).child({ component: 'forwarder' });
    logger.warn({ token: 'SECRET-TOKEN', upstream: 'http://127.0.0.1:9' }, 'forwarding failed');
    const text = out.lines();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[forwarder\] forwarding failed \{.*"upstream":"http:\/\/127\.0\.0\.1:9".*\}\n$/);
    expect(text).not.toMatch(/SECRET/);
    expect(text).not.toContain('\u001b[');
  });
});
