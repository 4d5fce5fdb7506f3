import { describe, it, expect } from '@jest/globals';
import { parseServerMessage } from '../../../src/shared/control-client/server-message.js';

describe('parseServerMessage', () => {
  it('parses an ack with and without a result', () => {
    expect(parseServerMessage('{"type":"ack","id":"a1","result":{"backendId":"b1"}}')).toEqual({ ok: true, message: { type: 'ack', id: 'a1', result: { backendId: 'b1' } } });
    expect(parseServerMessage('{"type":"ack","id":"a1"}')).toEqual({ ok: true, message: { type: 'ack', id: 'a1' } });
  });

  it('parses an error with a known code and keeps its id', () => {
    expect(parseServerMessage('{"type":"error","id":"a2","code":"RP_ERR_OUT_OF_SCOPE","message":"rule /admin"}')).toEqual({
      ok: true,
      message: { type: 'error', id: 'a2', code: 'RP_ERR_OUT_OF_SCOPE', message: 'rule /admin' },
    });
  });

  it('maps an unknown error code to RP_ERR_REJECTED and keeps the original code in the text', () => {
    const parsed = parseServerMessage('{"type":"error","code":"RP_ERR_FROM_THE_FUTURE","message":"x"}');
    expect(parsed).toEqual({ ok: true, message: { type: 'error', code: 'RP_ERR_REJECTED', message: 'RP_ERR_FROM_THE_FUTURE: x' } });
  });

  it('does not take a prototype key as an error code', () => {
    const parsed = parseServerMessage('{"type":"error","code":"constructor","message":"x"}');
    expect(parsed.ok && parsed.message.type === 'error' && parsed.message.code).toBe('RP_ERR_REJECTED');
  });

  it('truncates a very long error message', () => {
    const parsed = parseServerMessage(JSON.stringify({ type: 'error', code: 'RP_ERR_FORBIDDEN', message: 'x'.repeat(5000) }));
    expect(parsed.ok && parsed.message.type === 'error' && parsed.message.message.length).toBe(1024);
  });

  it('parses drained and custom events, dropping unknown fields', () => {
    expect(parseServerMessage('{"type":"drained","extra":1}')).toEqual({ ok: true, message: { type: 'drained' } });
    expect(parseServerMessage('{"type":"event","name":"config.reload","data":{"v":2},"x":1}')).toEqual({
      ok: true,
      message: { type: 'event', name: 'config.reload', data: { v: 2 } },
    });
  });

  it.each([
    ['not JSON', '{nope', /JSON/],
    ['an array', '[1]', /object/],
    ['null', 'null', /object/],
    ['an unknown type', '{"type":"register"}', /unknown message type/],
    ['an ack without id', '{"type":"ack"}', /id is required/],
    ['a non-string id', '{"type":"ack","id":5}', /id:/],
    ['an id with spaces', '{"type":"ack","id":"a b"}', /id:/],
    ['an overlong id', JSON.stringify({ type: 'ack', id: 'a'.repeat(65) }), /id:/],
    ['an error without code', '{"type":"error","message":"x"}', /code/],
    ['an event with a bad name', '{"type":"event","name":"../x"}', /name/],
  ])('refuses %s without throwing', (_name, text, reason) => {
    const parsed = parseServerMessage(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});
