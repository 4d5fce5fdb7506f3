import { describe, it, expect } from '@jest/globals';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { advertisedTarget } from '../../../src/webserver-agent/advertised-target.js';

function boundTo(address: string | AddressInfo | null): http.Server {
  return { address: () => address } as unknown as http.Server;
}

describe('advertisedTarget', () => {
  it('uses the bound address and port of the server', () => {
    expect(advertisedTarget(undefined, boundTo({ address: '127.0.0.1', port: 4242, family: 'IPv4' }), '10.0.0.5')).toEqual({ host: '127.0.0.1', port: 4242, protocol: 'http' });
  });

  it('replaces a wildcard bind with the local address of the control connection', () => {
    expect(advertisedTarget(undefined, boundTo({ address: '0.0.0.0', port: 1, family: 'IPv4' }), '10.0.0.5').host).toBe('10.0.0.5');
    expect(advertisedTarget(undefined, boundTo({ address: '::', port: 1, family: 'IPv6' }), undefined).host).toBe('127.0.0.1');
  });

  it('strips an IPv4-mapped prefix', () => {
    expect(advertisedTarget(undefined, boundTo({ address: '::ffff:192.168.1.2', port: 1, family: 'IPv6' }), undefined).host).toBe('192.168.1.2');
  });

  it('lets explicit target fields win and defaults the protocol from the server type', () => {
    const server = https.createServer();
    expect(advertisedTarget({ host: 'backend.local', port: 8443 }, server, '10.0.0.5')).toEqual({ host: 'backend.local', port: 8443, protocol: 'https' });
    expect(advertisedTarget({ host: 'h', port: 1, protocol: 'http' }, server, undefined).protocol).toBe('http');
  });

  it('requires a port for a server bound to a pipe', () => {
    expect(() => advertisedTarget(undefined, boundTo('/tmp/app.sock'), undefined)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_OPTION', message: expect.stringContaining('target.port') }));
  });
});
