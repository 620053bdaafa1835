/**
 * A TCP relay between a PostgreSQL client and the database, to cut the database away from
 * a running store (every connection dropped, new ones refused) and give it back on the same
 * port. The outage tests share it.
 */
import { Socket, createServer } from 'node:net';
import type { Server } from 'node:net';
import { PG_URL } from './pg-env.js';

export class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** A relay to the test database (NOBURN_TEST_PG), open. */
  static async toTestDb(): Promise<Relay> {
    const pg = new URL(PG_URL);
    const relay = new Relay({ host: pg.hostname, port: Number(pg.port || 5432) });
    await relay.open();
    return relay;
  }

  /** `url` (default NOBURN_TEST_PG) through this relay. */
  url(url = PG_URL): string {
    const via = new URL(url);
    via.port = String(this.port);
    return via.toString();
  }

  /** Listens (again, on the same port once it had one) and relays each connection. */
  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}
