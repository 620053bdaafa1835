/**
 * Upstream preconnection (docs/performance.md, "first proxied call"): a connection opened
 * ahead of the first call carries no request of its own (nothing can be billed or logged
 * upstream), is handed to the pool's first connect to its origin, and is never handed out
 * once it has closed or aged past its limit (the pool then connects as usual).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { preconnector } from '../../src/proxy/preconnect.js';
import { preconnectOrigins } from '../../src/proxy/routes.js';

interface Upstream {
  origin: string;
  server: Server;
  /** Each accepted connection and the bytes it sent before its first request was parsed. */
  conns: { socket: Socket; bytes: number }[];
  requests: number;
}

const open: { agent: Agent; server: Server }[] = [];
afterEach(async () => {
  for (const { agent, server } of open.splice(0)) {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

async function upstream(onConnection?: (s: Socket) => void): Promise<Upstream> {
  const u: Upstream = { origin: '', server: createServer(), conns: [], requests: 0 };
  u.server.on('connection', (socket: Socket) => {
    const c = { socket, bytes: 0 };
    u.conns.push(c);
    socket.on('data', (d: Buffer) => (c.bytes += d.length));
    onConnection?.(socket);
  });
  u.server.on('request', (req, res) => {
    u.requests++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', () => r()));
  u.origin = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}`;
  return u;
}

const settle = () => new Promise((r) => setTimeout(r, 50));

async function post(agent: Agent, origin: string): Promise<number> {
  const r = await request(`${origin}/v1/chat/completions`, { method: 'POST', body: '{}', dispatcher: agent });
  await r.body.text();
  return r.statusCode;
}

describe('preconnector', () => {
  it('opens a connection that sends nothing, and the first call goes over it', async () => {
    const u = await upstream();
    const pre = preconnector();
    const agent = new Agent({ connect: pre.connect });
    open.push({ agent, server: u.server });
    expect(await pre.open(u.origin)).toBe(true);
    await settle();
    // Connected, yet not one byte of HTTP: no request the upstream could bill or log.
    expect(u.conns.map((c) => c.bytes)).toEqual([0]);
    expect(u.requests).toBe(0);
    expect(pre.parked).toBe(1);

    expect(await post(agent, u.origin)).toBe(200);
    // The call went over the connection opened ahead: no handshake of its own.
    expect(u.conns).toHaveLength(1);
    expect(u.conns[0]?.bytes).toBeGreaterThan(0);
    expect(u.requests).toBe(1);
    expect(pre.parked).toBe(0);
  });

  // The observable rule; undici also reconnects by itself when handed a socket already closed.
  it('a connection the upstream closed does not fail the first call: it connects anew', async () => {
    let first = true;
    const u = await upstream((s) => {
      if (first) s.destroy();
      first = false;
    });
    const pre = preconnector();
    const agent = new Agent({ connect: pre.connect });
    open.push({ agent, server: u.server });
    await pre.open(u.origin);
    await settle();
    expect(await post(agent, u.origin)).toBe(200);
    expect(u.conns).toHaveLength(2);
    expect(u.requests).toBe(1);
  });

  it('never hands out a connection older than maxAgeMs', async () => {
    const u = await upstream();
    let t = 0;
    const pre = preconnector({ maxAgeMs: 1000, now: () => t });
    const agent = new Agent({ connect: pre.connect });
    open.push({ agent, server: u.server });
    await pre.open(u.origin);
    await settle();
    t = 1001;
    expect(await post(agent, u.origin)).toBe(200);
    expect(u.conns).toHaveLength(2);
  });

  it('an origin that cannot be reached resolves false and leaves nothing parked', async () => {
    const u = await upstream();
    const dead = u.origin;
    await new Promise<void>((r) => u.server.close(() => r()));
    const pre = preconnector();
    expect(await pre.open(dead)).toBe(false);
    expect(pre.parked).toBe(0);
  });
});

describe('preconnectOrigins (what noburn run connects to while the child starts)', () => {
  const defaults = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com', google: 'https://generativelanguage.googleapis.com' };
  it('an upstream the environment names, and a default one only when its API key is set', () => {
    expect(preconnectOrigins(defaults, {})).toEqual([]);
    expect(preconnectOrigins({ ...defaults, openai: 'http://127.0.0.1:9999/v1' }, {})).toEqual(['http://127.0.0.1:9999']);
    expect(preconnectOrigins(defaults, { ANTHROPIC_API_KEY: 'sk-ant-x', OPENAI_API_KEY: '' })).toEqual(['https://api.anthropic.com']);
  });
});
