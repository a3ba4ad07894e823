import { randomBytes } from 'node:crypto';
import { challengeText, encodePublicKey, generateKeyPair, type KeyPair, MAX_FRAME_BYTES, signBytes } from '@stems/shared';
import { describe, expect, it } from 'vitest';
import { securityHub, TestAgent } from './_hub.js';
import { clientFrame, OP, type RawConnection, rawConnect, rawSocket, upgradeRequest } from './_raw-ws.js';
import { seededRandom } from './_tree.js';

// Hostile traffic against a real hub on 127.0.0.1: a seeded fuzzer, an
// oversized frame, a fragment flood, trickling clients, a header flood (ws
// CVE-2024-37890), while a well-behaved agent keeps pulling its bundle.

/** Frames the fuzzer sends (unauthenticated + authenticated). */
const FUZZ_CONNECTIONS = 120;
const FRAMES_PER_CONNECTION = 20;
const NOISY_FRAMES = 600;
/** What an abusive connection may cost the hub in RSS. */
const MAX_RSS_GROWTH_BYTES = 64 * 1024 * 1024;
const PRE_AUTH_TYPES = new Set(['challenge', 'pending', 'error']);

// Key generation is slow in tweetnacl (tens of ms on a loaded machine): a few, made once.
const FUZZ_KEYS = Array.from({ length: 3 }, () => generateKeyPair());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One random frame: garbage, wrong types, wrong order, pollution keys, bad hellos. */
function fuzzFrame(random: () => number, nonce: string): string | Buffer {
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)] as T;
  const junk = () => pick<unknown>([null, 1, -1, 1e308, 'x', '', [], {}, true, 'a'.repeat(5000), { __proto__: 1 }]);
  const type = pick(['hello', 'facts', 'bundle.get', 'report', 'drift', 'health', 'error', 'welcome', 'bundle', 'nope', '__proto__']);
  const key = pick(FUZZ_KEYS);
  const node = pick(['good', 'noisy', 'ghost', 'Bad Name', '../etc', 'constructor']);
  switch (Math.floor(random() * 10)) {
    case 0:
      return randomBytes(1 + Math.floor(random() * 256));
    case 1:
      return randomBytes(1 + Math.floor(random() * 64)).toString('latin1');
    case 2:
      return JSON.stringify(junk());
    case 3:
      return JSON.stringify({ v: pick([1, 2, '1', null]), id: junk(), type, payload: junk() });
    case 4:
      return JSON.stringify({ v: 1, id: 'x', type, payload: { [pick(['node', 'facts', 'serial'])]: junk() } });
    case 5:
      return `{"v":1,"id":"p","type":"${type}","payload":{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}}`;
    case 6:
      return JSON.stringify({ v: 1, id: 'o', type: pick(['bundle.get', 'facts', 'report', 'health']), payload: {} });
    case 7: {
      // a well-formed hello whose signature is for another nonce or node
      const sig = signBytes(Buffer.from(challengeText('agent', pick([nonce, 'A'.repeat(43)]), 'good')), key.secretKey);
      return JSON.stringify({
        v: 1,
        id: 'h',
        type: 'hello',
        payload: { node, publicKey: encodePublicKey(key.publicKey), sig, nonce: 'B'.repeat(43), agentVersion: 'fuzz', lastSerial: 0 },
      });
    }
    case 8:
      return '['.repeat(20_000) + ']'.repeat(20_000);
    default:
      return JSON.stringify({ v: 1, id: 'a'.repeat(65), type: 'bundle.get', payload: {} });
  }
}

async function rssSampler(): Promise<{ stop(): { peak: number; base: number } }> {
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return { peak, base };
    },
  };
}

/** Sends frames on one websocket and collects what the hub says; resolves when it closes or after 6 s. */
async function fuzzConnection(url: string, random: () => number): Promise<{ types: string[]; sent: number; closedMs: number }> {
  const conn = await TestAgent.connect(url, 'fuzz');
  conn.ws.on('error', () => undefined); // the hub cutting us off is expected
  const challenge = await conn.next('challenge');
  let sent = 0;
  for (let i = 0; i < FRAMES_PER_CONNECTION && conn.ws.readyState === conn.ws.OPEN; i++) {
    conn.ws.send(fuzzFrame(random, challenge.payload.nonce));
    sent++;
  }
  const lastSend = performance.now();
  const deadline = lastSend + 6000;
  while (!conn.closed && performance.now() < deadline) await sleep(20);
  const closedMs = conn.closed ? performance.now() - lastSend : Number.POSITIVE_INFINITY;
  conn.ws.terminate();
  return { types: conn.received.map((m) => m.type), sent, closedMs };
}

/** Authenticates a raw connection as an accepted node (challenge → signed hello → welcome). */
async function rawHello(raw: RawConnection, node: string, key: KeyPair): Promise<void> {
  const typed = () => raw.frames() as { type: string; payload: { nonce: string } }[];
  const waitFor = async (type: string) => {
    for (let i = 0; i < 250 && !typed().some((f) => f.type === type); i++) await sleep(20);
    const found = typed().find((f) => f.type === type);
    if (!found) throw new Error(`no ${type}: ${JSON.stringify(raw.frames())}`);
    return found;
  };
  const { nonce } = (await waitFor('challenge')).payload;
  const hello = {
    node,
    publicKey: encodePublicKey(key.publicKey),
    sig: signBytes(Buffer.from(challengeText('agent', nonce, node)), key.secretKey),
    nonce: 'C'.repeat(43),
    agentVersion: 'raw',
    lastSerial: 0,
  };
  await raw.write(clientFrame({ opcode: OP.text, payload: Buffer.from(JSON.stringify({ v: 1, id: 'h', type: 'hello', payload: hello })) }));
  await waitFor('welcome');
}

describe('the agent endpoint under a storm', () => {
  it('fuzzed frames: the hub stays up, closes abusers within 5 s, tells them nothing, and the good agent keeps its bundle', async () => {
    const { hub, url, keys } = await securityHub();
    const good = await TestAgent.connect(url, 'good', keys.good);
    await good.hello();
    await good.next('welcome');
    let pulls = 0;
    let pulling = true;
    const puller = (async () => {
      while (pulling) {
        const from = good.received.length;
        good.send('bundle.get', {});
        const bundle = await good.next('bundle', from, 5000);
        expect(JSON.parse(bundle.payload.envelope.payload).node).toBe('good');
        pulls++;
        await sleep(50);
      }
    })();
    const memory = await rssSampler();
    const random = seededRandom(0xf422);

    const t0 = performance.now();
    // Unauthenticated: FUZZ_CONNECTIONS connections, 10 at a time.
    const results: Awaited<ReturnType<typeof fuzzConnection>>[] = [];
    for (let i = 0; i < FUZZ_CONNECTIONS; i += 10) {
      results.push(...(await Promise.all(Array.from({ length: 10 }, () => fuzzConnection(url, random)))));
    }
    const unauthMs = performance.now() - t0;
    // Authenticated: node "noisy" sends malformed frames; it is cut off after 10 bad ones and reconnects.
    let noisySent = 0;
    let noisyClosures = 0;
    while (noisySent < NOISY_FRAMES) {
      const noisy = await TestAgent.connect(url, 'noisy', keys.noisy).catch(() => undefined);
      if (!noisy) continue;
      noisy.ws.on('error', () => undefined);
      await noisy.hello();
      await noisy.next('welcome');
      for (let i = 0; i < 15 && noisy.ws.readyState === noisy.ws.OPEN; i++, noisySent++) {
        const frame = fuzzFrame(random, 'x');
        noisy.ws.send(frame);
      }
      await sleep(100);
      if (noisy.closed) noisyClosures++;
      noisy.ws.terminate();
    }
    const authMs = performance.now() - t0 - unauthMs;
    pulling = false;
    await puller;
    const { peak, base } = memory.stop();

    const sent = results.reduce((n, r) => n + r.sent, 0);
    const heard = new Set(results.flatMap((r) => r.types));
    const slowest = Math.max(...results.map((r) => r.closedMs));
    expect(sent + noisySent).toBeGreaterThanOrEqual(2500);
    // An unauthenticated connection hears only challenge, pending and error frames.
    expect([...heard].filter((t) => !PRE_AUTH_TYPES.has(t))).toEqual([]);
    expect(slowest).toBeLessThan(5000);
    expect(noisyClosures).toBeGreaterThan(0);
    expect(pulls).toBeGreaterThan(5);
    expect(good.closed).toBeNull();
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    expect((await hub.app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
    // No record was created for any name the fuzzer made up without a valid signature.
    expect(hub.app.hub.store.nodes.get('ghost')).toBeUndefined();
    console.info(
      `[security] wire fuzz: ${sent} unauthenticated + ${noisySent} authenticated frames; slowest close ${Math.round(slowest)} ms; ` +
        `${pulls} bundle pulls by the good agent meanwhile; rss +${((peak - base) / 2 ** 20).toFixed(1)} MiB; ${Math.round(unauthMs + authMs)} ms`,
    );
    good.close();
  }, 120_000);

  it('a 1 GiB frame header is refused at once (close 1009) without allocating it', async () => {
    const { url, port, keys } = await securityHub();
    const memory = await rssSampler();
    for (const authenticated of [false, true]) {
      const raw = await rawConnect(port);
      if (authenticated) await rawHello(raw, 'noisy', keys.noisy);
      const started = performance.now();
      await raw.write(clientFrame({ opcode: OP.text, payload: Buffer.from('{"v":1'), announce: 2 ** 30 }));
      const ms = await raw.closedAfter(started);
      expect(ms).toBeLessThan(1000);
      expect(raw.closeCode()).toBe(1009);
    }
    // Over the cap by one byte is refused the same way.
    const raw = await rawConnect(port);
    await raw.write(clientFrame({ opcode: OP.text, payload: Buffer.from('{'), announce: MAX_FRAME_BYTES + 1 }));
    expect(await raw.closedAfter(performance.now())).toBeLessThan(1000);
    expect(raw.closeCode()).toBe(1009);
    const { peak, base } = memory.stop();
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
  });

  it('100k one-byte fragments before hello: cut off within 5 s, memory bounded', async () => {
    const { url, port } = await securityHub();
    const raw = await rawConnect(port);
    const memory = await rssSampler();
    const fragments = [clientFrame({ opcode: OP.text, payload: Buffer.from('['), fin: false })];
    for (let i = 1; i < 100_000; i++) fragments.push(clientFrame({ opcode: OP.continuation, payload: Buffer.from(' '), fin: false }));
    const started = performance.now();
    const wire = Buffer.concat(fragments);
    for (let at = 0; at < wire.length && !raw.socket.destroyed; at += 16_384) await raw.write(wire.subarray(at, at + 16_384));
    const ms = await raw.closedAfter(started);
    const { peak, base } = memory.stop();
    expect(ms).toBeLessThan(5000);
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH_BYTES);
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
    console.info(`[security] wire fragments: cut after ${Math.round(ms)} ms, rss +${((peak - base) / 2 ** 20).toFixed(1)} MiB`);
  });

  it('trickling clients (1 byte/s) are cut off within 5 s: in the HTTP headers and inside a frame', async () => {
    const { url, port } = await securityHub();
    // Headers at 1 byte/s: the HTTP server's headers timeout.
    const http = await rawSocket(port);
    const request = Buffer.from(upgradeRequest(port));
    const started = performance.now();
    const trickle = (async () => {
      for (const byte of request) {
        if (http.socket.destroyed) return;
        http.socket.write(Buffer.from([byte]));
        await sleep(1000);
      }
    })();
    const headersMs = (await http.ended) - started;
    await trickle;
    // A frame at 1 byte/s after the upgrade: the hello timeout.
    const ws = await rawConnect(port);
    const frame = clientFrame({ opcode: OP.text, payload: Buffer.from('{"v":1,"id":"x","type":"hello"}') });
    const frameStart = performance.now();
    const frameTrickle = (async () => {
      for (const byte of frame) {
        if (ws.socket.destroyed) return;
        ws.socket.write(Buffer.from([byte]));
        await sleep(1000);
      }
    })();
    const frameMs = await ws.closedAfter(frameStart);
    await frameTrickle;
    expect(headersMs).toBeLessThan(5000);
    expect(frameMs).toBeLessThan(5000);
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
    console.info(`[security] trickle: headers cut after ${Math.round(headersMs)} ms, frame cut after ${Math.round(frameMs)} ms`);
  }, 30_000);

  it('an upgrade request with thousands of headers (ws CVE-2024-37890) does not crash the hub', async () => {
    const { url, port } = await securityHub();
    for (const count of [2_000, 10_000]) {
      const conn = await rawSocket(port);
      const headers = Array.from({ length: count }, (_, i) => `X-${i}: ${i}`);
      conn.socket.write(upgradeRequest(port, headers));
      await Promise.race([conn.ended, sleep(3000)]);
      conn.socket.destroy();
    }
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
  });

  it('permessage-deflate is never negotiated and frames are capped at MAX_FRAME_BYTES', async () => {
    const { port } = await securityHub();
    const raw = await rawConnect(port, ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits']);
    expect(raw.responseHead.toLowerCase()).not.toContain('sec-websocket-extensions');
    // A compressed frame (RSV1 set) is a protocol error when deflate is off.
    const frame = clientFrame({ opcode: OP.text, payload: Buffer.from('{}') });
    frame[0] = (frame[0] as number) | 0x40;
    await raw.write(frame);
    expect(await raw.closedAfter(performance.now())).toBeLessThan(1000);
    expect(MAX_FRAME_BYTES).toBeLessThanOrEqual(16 * 1024 * 1024 + 64 * 1024);
  });

  it('a pending node hears pending and nothing else, whatever it asks', async () => {
    const { url } = await securityHub();
    const stranger = await TestAgent.connect(url, 'stranger');
    await stranger.hello();
    await stranger.next('pending');
    for (const type of ['bundle.get', 'facts', 'health'] as const) {
      stranger.sendRaw(JSON.stringify({ v: 1, id: type, type, payload: {} }));
    }
    stranger.send('bundle.get', {});
    await sleep(300);
    expect(new Set(stranger.received.map((m) => m.type))).toEqual(new Set(['challenge', 'pending', 'error']));
    stranger.close();
  });
});

describe('HTTP routes declare their access (default deny)', () => {
  /** Routes anyone may call: health, and the agent socket, which authenticates in its protocol. */
  const PUBLIC = new Set(
    [
      '/api/v1/health',
      '/api/v1/agent',
      // The install script and the bundles a fresh node downloads (agent, read-only hub client): no secret in them (see docs/security.md).
      '/install.sh',
      '/agent/stems-agent.mjs',
      '/agent/hub.mjs',
    ].flatMap((url) => [`GET ${url}`, `HEAD ${url}`]),
  );

  it('every registered route has a minimum role, or is on the explicit public list', async () => {
    const { hub } = await securityHub();
    const routes = hub.app.routeAccess;
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const undeclared = routes.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
    const publicRoutes = routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`);
    expect(publicRoutes.filter((r) => !PUBLIC.has(r))).toEqual([]);
    // Every write needs at least an operator.
    const weakWrites = routes.filter((r) => r.method === 'POST' && (r.access === 'viewer' || r.access === 'public'));
    expect(weakWrites).toEqual([]);
  });
});
