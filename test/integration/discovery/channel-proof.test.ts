/**
 * The channel proof over real TLS connections on loopback: both directions, a relaying man in the middle,
 * a wrong secret, a reflected proof, rotation; then the carriage the control plane uses, on a real WebSocket upgrade
 * (the agent's proof in the request, the proxy's in the 101 response, checked before any frame).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket, WebSocketServer } from 'ws';
import { agentChannelProof, answerChannelProof, verifyProxyChannelProof } from '../../../src/shared/discovery/channel-proof-exchange.js';
import { CLUSTER_PROOF_HEADER, deriveChannelProof, exportChannelKeyingMaterial, isTlsEstablished, verifyChannelProof } from '../../../src/shared/discovery/channel-proof.js';
import { ClusterKeyring } from '../../../src/shared/discovery/cluster-keyring.js';
import { generateDevCertificate, type PemPair } from '../../../src/shared/tls/dev-certificate.js';
import { LOOPBACK_INTERFACE, newSecret } from '../../helpers/discovery-loopback.js';

const secret = newSecret();
const ring = ClusterKeyring.from(secret);
let pair: PemPair;
let server: tls.Server;
const serverSockets: tls.TLSSocket[] = [];
const clients: tls.TLSSocket[] = [];

beforeAll(async () => {
  pair = await generateDevCertificate();
  server = tls.createServer({ cert: pair.cert, key: pair.key }, (socket) => {
    serverSockets.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK_INTERFACE, resolve));
});

afterAll(async () => {
  for (const socket of [...clients, ...serverSockets]) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** Opens a TLS connection and returns both of its ends. */
async function connection(maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<{ client: tls.TLSSocket; server: tls.TLSSocket }> {
  const before = serverSockets.length;
  const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
  const client = tls.connect({ host: LOOPBACK_INTERFACE, port: (server.address() as AddressInfo).port, rejectUnauthorized: false, maxVersion });
  clients.push(client);
  await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
  const end = await accepted;
  expect(serverSockets.length).toBeGreaterThan(before);
  return { client, server: end };
}

describe('channel proof on TLS connections', () => {
  it('both ends export the same keying material; proofs verify both ways (TLS 1.3 and 1.2)', async () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const { client, server: end } = await connection(version);
      expect(exportChannelKeyingMaterial(client)).toEqual(exportChannelKeyingMaterial(end));
      const answer = answerChannelProof(ring, end, agentChannelProof(ring, client));
      expect(answer).toBeDefined();
      expect(verifyProxyChannelProof(ring, client, answer)).toBe(true);
    }
  });

  it('a proof relayed to another connection (a man in the middle) does not verify there', async () => {
    const toMitm = await connection();
    const mitmToProxy = await connection();
    const agentProof = agentChannelProof(ring, toMitm.client);
    expect(answerChannelProof(ring, mitmToProxy.server, agentProof)).toBeUndefined();
    // Nor does the real proxy's answer relayed back to the agent.
    const realAnswer = answerChannelProof(ring, mitmToProxy.server, agentChannelProof(ring, mitmToProxy.client));
    expect(verifyProxyChannelProof(ring, toMitm.client, realAnswer)).toBe(false);
  });

  it('a proxy without the secret cannot answer, and reflecting the agent\'s own proof fails', async () => {
    const { client, server: end } = await connection();
    const agentProof = agentChannelProof(ring, client);
    expect(answerChannelProof(ClusterKeyring.from(newSecret()), end, agentProof)).toBeUndefined();
    expect(verifyProxyChannelProof(ring, client, agentProof)).toBe(false);
    const fakeAnswer = deriveChannelProof(ClusterKeyring.from(newSecret()).current, exportChannelKeyingMaterial(end), 'proxy');
    expect(verifyProxyChannelProof(ring, client, fakeAnswer)).toBe(false);
    for (const junk of [undefined, '', 'x'.repeat(500), `${ring.current.keyId.toString('hex')}.${'A'.repeat(43)}`, 42]) {
      expect(verifyProxyChannelProof(ring, client, junk)).toBe(false);
      expect(answerChannelProof(ring, end, junk)).toBeUndefined();
    }
  });

  it('during a rotation the proxy answers with the key the agent used', async () => {
    const { client, server: end } = await connection();
    const newer = newSecret();
    const agentRing = ClusterKeyring.from(secret);
    const proxyRing = ClusterKeyring.from([newer, secret]);
    const answer = answerChannelProof(proxyRing, end, agentChannelProof(agentRing, client));
    expect(verifyProxyChannelProof(agentRing, client, answer)).toBe(true);
    expect(verifyChannelProof(proxyRing, exportChannelKeyingMaterial(end), 'proxy', answer)?.keyId).toEqual(agentRing.current.keyId);
  });

  it('refuses to export from a socket without a TLS session', () => {
    const unconnected = new tls.TLSSocket(undefined as never);
    expect(() => exportChannelKeyingMaterial(unconnected)).toThrow(expect.objectContaining({ code: 'RP_ERR_TLS' }));
    unconnected.destroy();
  });
});

describe('channel proof carried on a WebSocket upgrade (the carriage the control plane uses)', () => {
  let httpsServer: https.Server;
  let wss: WebSocketServer;
  let fake = false;
  let framesReceived = 0;
  const answers = new WeakMap<IncomingMessage, string>();

  beforeAll(async () => {
    httpsServer = https.createServer({ cert: pair.cert, key: pair.key });
    wss = new WebSocketServer({ noServer: true });
    httpsServer.on('upgrade', (req, socket, head) => {
      // The proxy checks the agent's proof on its own end of the connection before anything else. The
      // fake, which lacks the secret, upgrades anyway with a "proof" under a key of its own.
      const tlsSocket = req.socket as tls.TLSSocket;
      const answer = fake
        ? deriveChannelProof(ClusterKeyring.from(newSecret()).current, exportChannelKeyingMaterial(tlsSocket), 'proxy')
        : answerChannelProof(ring, tlsSocket, req.headers[CLUSTER_PROOF_HEADER]);
      if (answer === undefined) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      answers.set(req, answer);
      wss.handleUpgrade(req, socket, head, (ws) =>
        ws.on('message', (data) => {
          framesReceived += 1;
          ws.send(`echo ${String(data)}`);
        }),
      );
    });
    wss.on('headers', (headers, req) => {
      const answer = answers.get(req);
      if (answer !== undefined) headers.push(`${CLUSTER_PROOF_HEADER}: ${answer}`);
    });
    await new Promise<void>((resolve) => httpsServer.listen(0, LOOPBACK_INTERFACE, resolve));
  });

  afterAll(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    httpsServer.closeAllConnections();
    await new Promise((resolve) => httpsServer.close(resolve));
  });

  /** The agent's side: proof added once TLS is up, the proxy's proof checked on `upgrade`, before `open`. */
  function dial(agentRing: ClusterKeyring): Promise<{ opened: boolean; reason: string }> {
    const port = (httpsServer.address() as AddressInfo).port;
    return new Promise((resolve) => {
      const ws = new WebSocket(`wss://${LOOPBACK_INTERFACE}:${port}/`, {
        rejectUnauthorized: false,
        finishRequest: (req) => {
          req.on('socket', (socket) => {
            const send = (): void => {
              req.setHeader(CLUSTER_PROOF_HEADER, agentChannelProof(agentRing, socket as tls.TLSSocket));
              req.end();
            };
            if (isTlsEstablished(socket as tls.TLSSocket)) send();
            else socket.once('secureConnect', send);
          });
        },
      });
      ws.on('upgrade', (res) => {
        if (!verifyProxyChannelProof(agentRing, res.socket as tls.TLSSocket, res.headers[CLUSTER_PROOF_HEADER])) {
          ws.terminate();
          resolve({ opened: false, reason: 'proxy proof refused' });
        }
      });
      ws.on('open', () => {
        ws.send('hello');
        ws.once('message', (data) => {
          ws.close();
          resolve({ opened: String(data) === 'echo hello', reason: 'ok' });
        });
      });
      ws.on('error', (error) => resolve({ opened: false, reason: error.message }));
    });
  }

  it('an agent with the secret opens the connection after both proofs', async () => {
    fake = false;
    expect(await dial(ring)).toEqual({ opened: true, reason: 'ok' });
  });

  it('an agent without the secret is refused at the upgrade (401)', async () => {
    fake = false;
    const result = await dial(ClusterKeyring.from(newSecret()));
    expect(result.opened).toBe(false);
    expect(result.reason).toContain('401');
  });

  it('a proxy that upgrades without the secret is refused by the agent before any frame', async () => {
    fake = true;
    const before = framesReceived;
    expect(await dial(ring)).toEqual({ opened: false, reason: 'proxy proof refused' });
    expect(framesReceived).toBe(before);
  });
});
