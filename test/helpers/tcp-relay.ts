/**
 * A loopback TCP relay in front of a server, to cut one client off while others keep their direct
 * connection (a proxy losing its link to Redis while Redis stays up for the rest of the fleet).
 * `cut()` destroys every relayed connection and refuses new ones; `restore()` accepts again.
 */
import net from 'node:net';

/** A relay from a free loopback port to `127.0.0.1:<targetPort>`. */
export class TcpRelay {
  readonly #server: net.Server;
  readonly #targetPort: number;
  readonly #sockets = new Set<net.Socket>();
  #cut = false;
  #port = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = net.createServer((client) => this.#relay(client));
  }

  /** Listens on a free loopback port. */
  static async start(targetPort: number): Promise<TcpRelay> {
    const relay = new TcpRelay(targetPort);
    await new Promise<void>((resolve, reject) => {
      relay.#server.once('error', reject);
      relay.#server.listen(0, '127.0.0.1', () => resolve());
    });
    relay.#port = (relay.#server.address() as net.AddressInfo).port;
    return relay;
  }

  /** The relay's port. */
  get port(): number {
    return this.#port;
  }

  /** `redis://127.0.0.1:<port>` (the relay is protocol-blind; this is for Redis tests). */
  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** Destroys every relayed connection and refuses (resets) new ones until {@link restore}. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Accepts connections again. */
  restore(): void {
    this.#cut = false;
  }

  /** Closes the relay and every connection. */
  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: net.Socket): void {
    if (this.#cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: this.#targetPort });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
