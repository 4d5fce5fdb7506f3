import { describe, expect, it } from '@jest/globals';
import { translateRawHeaders } from '../../../src/proxy/data-plane/h2-compat.js';

describe('HTTP/2 request header translation', () => {
  it('drops pseudo-headers and puts :authority first as Host', () => {
    expect(translateRawHeaders([':method', 'GET', ':path', '/', ':authority', 'a.example', ':scheme', 'https', 'accept', '*/*'], false)).toEqual(['host', 'a.example', 'accept', '*/*']);
  });

  it('keeps a Host equal to :authority once, and a different one as a second Host (400)', () => {
    expect(translateRawHeaders([':authority', 'a.example', 'host', 'A.example'], false)).toEqual(['host', 'a.example']);
    expect(translateRawHeaders([':authority', 'a.example', 'host', 'b.example'], false)).toEqual(['host', 'a.example', 'host', 'b.example']);
  });

  it('joins split cookie fields with "; " (RFC 9113 section 8.2.3)', () => {
    expect(translateRawHeaders(['cookie', 'a=1', 'x', 'y', 'cookie', 'b=2'], false)).toEqual(['x', 'y', 'cookie', 'a=1; b=2']);
  });

  it('keeps te: trailers', () => {
    expect(translateRawHeaders(['te', 'trailers'], false)).toEqual(['te', 'trailers']);
  });

  it('announces a body without content-length as chunked, and leaves a content-length alone', () => {
    expect(translateRawHeaders([':method', 'POST'], true)).toEqual(['transfer-encoding', 'chunked']);
    expect(translateRawHeaders(['content-length', '3'], true)).toEqual(['content-length', '3']);
  });
});
