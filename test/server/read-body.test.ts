/**
 * readJson (src/server/http.ts): a body that arrived with its headers is taken from the
 * request's buffer (no 'data' listener, no stream events); a body still on its way is read
 * from the stream; both keep the size limit and the connection usable for the next request.
 * A real node:http server on 127.0.0.1:0 and raw sockets, so the packets are ours to split.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { errorResponse, readJson, sendJson } from '../../src/server/http.js';

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A server that answers each request's parsed body and whether readJson listened for 'data'. */
async function start(limit: number): Promise<number> {
  server = createServer((req, res) => {
    void (async () => {
      // After one turn, as in serve (authentication comes first): the parser is done with the packet.
      await Promise.resolve();
      const pending = readJson(req, limit);
      const listened = req.listenerCount('data') > 0;
      try {
        sendJson(res, 200, { body: await pending, listened });
      } catch (e) {
        const er = errorResponse(e);
        sendJson(res, er.status, { code: er.code, listened });
      }
    })();
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** Writes `parts` on one connection (pausing between them) and returns all it read until `answers` responses came. */
function exchange(port: number, parts: string[], answers: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if ((got.match(/HTTP\/1\.1 /g) ?? []).length >= answers && /\}$/.test(got)) {
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
    void (async () => {
      for (const p of parts) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });
}

const post = (body: string) => `POST /x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const bodies = (text: string) => [...text.matchAll(/\r\n\r\n(\{.*?\})(?=HTTP|$)/gs)].map((m) => JSON.parse(m[1] as string) as unknown);

// Rule: a body that arrived with its headers is read from the buffer, with no 'data' listener.
it('takes a body that came with its headers from the buffer, and two such requests share a keep-alive connection', async () => {
  const port = await start(1024);
  const text = await exchange(port, [post('{"a":1}') + post('{"b":"é"}')], 2);
  expect(bodies(text)).toEqual([{ body: { a: 1 }, listened: false }, { body: { b: 'é' }, listened: false }]);
});

it('reads a body that comes after its headers from the stream', async () => {
  const port = await start(1024);
  const whole = post('{"late":true}');
  const cut = whole.indexOf('\r\n\r\n') + 4;
  const text = await exchange(port, [whole.slice(0, cut), whole.slice(cut, cut + 4), whole.slice(cut + 4), post('{"next":1}')], 2);
  expect(bodies(text)).toEqual([{ body: { late: true }, listened: true }, { body: { next: 1 }, listened: false }]);
});

it('refuses a chunked body over the limit (no Content-Length to refuse it by), and an empty or broken one', async () => {
  const port = await start(16);
  const big = JSON.stringify({ pad: 'x'.repeat(40) });
  const chunked = `POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`;
  // (A chunked body is read from the stream: its length is known only once it is complete.)
  expect(bodies(await exchange(port, [chunked], 1))).toMatchObject([{ code: 'NOBURN_TOO_LARGE' }]);
  expect(bodies(await exchange(port, [post('')], 1))).toEqual([{ code: 'NOBURN_MALFORMED', listened: false }]);
  expect(bodies(await exchange(port, [post('{nope')], 1))).toEqual([{ code: 'NOBURN_MALFORMED', listened: false }]);
});
