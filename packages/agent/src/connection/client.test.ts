import {
  AgentMessage,
  challengeText,
  encodePublicKey,
  generateKeyPair,
  type KeyPair,
  makeFrame,
  parseFrame,
  signBytes,
  verifyBytes,
} from '@stems/shared';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { HubConnection, type HubConnectionHandlers } from './client.js';

/*
 * These tests script the hub side of the protocol on a real loopback `ws`
 * server, to reach cases the real hub never produces (a wrong hub key, a
 * forged welcome, garbage frames). The round trip with the real hub is in
 * daemon/hub-roundtrip.test.ts and the end-to-end suite.
 */
const log = pino({ level: 'silent' });
const NONCE = 'n'.repeat(43);

interface ScriptedHub {
  url: string;
  key: KeyPair;
  /** Every parsed agent frame, in order. */
  received: AgentMessage[];
  connections: number;
  /** Pings the agent sent. */
  pings: number;
  /** The opcodes of the websocket frames in each TCP read from the agent, in order (text 0x1, ping 0x9). */
  reads: number[][];
  /** Date.now() of each TCP read from the agent, in order. */
  readAt: number[];
  sockets: WebSocket[];
  close(): Promise<void>;
}

type Script = (ws: WebSocket, msg: AgentMessage, hub: ScriptedHub) => void;

const send = (ws: WebSocket, type: string, payload: unknown) => ws.send(makeFrame(type, payload, 'h1'));

/** Opcodes of the client frames in one TCP read (RFC 6455 §5.2; frames from a client are masked). */
function frameOpcodes(chunk: Buffer): number[] {
  const opcodes: number[] = [];
  for (let at = 0; at + 2 <= chunk.length; ) {
    const short = (chunk[at + 1] ?? 0) & 0x7f;
    const [lengthBytes, length] =
      short === 126 ? [2, chunk.readUInt16BE(at + 2)] : short === 127 ? [8, Number(chunk.readBigUInt64BE(at + 2))] : [0, short];
    opcodes.push((chunk[at] ?? 0) & 0x0f);
    at += 2 + lengthBytes + 4 + length;
  }
  return opcodes;
}

/** A hub that challenges with `offerKey` and answers hello per `script`. */
async function scriptedHub(opts: { offerKey?: string; script?: Script; autoPong?: boolean } = {}): Promise<ScriptedHub> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/api/v1/agent', autoPong: opts.autoPong ?? true });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new TypeError('expected a TCP address');
  const hub: ScriptedHub = {
    url: `ws://127.0.0.1:${address.port}/api/v1/agent`,
    key: generateKeyPair(),
    received: [],
    connections: 0,
    pings: 0,
    reads: [],
    readAt: [],
    sockets: [],
    close: () =>
      new Promise((resolve) => {
        for (const s of hub.sockets) s.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (ws, req) => {
    req.socket.on('data', (chunk: Buffer) => {
      hub.reads.push(frameOpcodes(chunk));
      hub.readAt.push(Date.now());
    });
    hub.connections++;
    hub.sockets.push(ws);
    ws.on('ping', () => hub.pings++);
    ws.on('message', (data: Buffer) => {
      const parsed = parseFrame(AgentMessage, data);
      if (!parsed.ok) throw new Error(parsed.error.message);
      hub.received.push(parsed.message);
      opts.script?.(ws, parsed.message, hub);
    });
    send(ws, 'challenge', { nonce: NONCE, hubKey: opts.offerKey ?? encodePublicKey(hub.key.publicKey) });
  });
  return hub;
}

/** The honest answer: check the agent's signature, prove our key, welcome. */
const welcome: Script = (ws, msg, hub) => {
  if (msg.type !== 'hello') return;
  const { node, publicKey, sig, nonce } = msg.payload;
  const ok = verifyBytes(Buffer.from(challengeText('agent', NONCE, node)), sig, Buffer.from(publicKey.slice(8), 'base64'));
  if (!ok) throw new Error('agent signature did not verify');
  send(ws, 'welcome', {
    node,
    cluster: 'colab',
    serial: 3,
    hubSig: signBytes(Buffer.from(challengeText('hub', nonce, node)), hub.key.secretKey),
  });
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function connect(
  hub: ScriptedHub,
  handlers: HubConnectionHandlers,
  extra: { pinned?: string; backoffMaxMs?: number; pingMs?: number; beatMs?: number } = {},
) {
  const conn = new HubConnection({
    wsUrl: hub.url,
    node: 'projector',
    keyPair: generateKeyPair(),
    hubKey: extra.pinned ?? encodePublicKey(hub.key.publicKey),
    agentVersion: '0.0.0-test',
    lastSerial: () => 2,
    joinToken: () => 'jt_once',
    backoffMinMs: 20,
    backoffMaxMs: extra.backoffMaxMs ?? 100,
    stableMs: 60_000,
    pingMs: extra.pingMs ?? 60_000,
    ...(extra.beatMs ? { beatMs: extra.beatMs } : {}),
    log,
    handlers,
  });
  cleanups.push(() => conn.stop());
  conn.start();
  return conn;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('HubConnection handshake', () => {
  it('answers the challenge, verifies the hub, becomes ready and sends', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const welcomes: unknown[] = [];
    const conn = connect(hub, { welcome: (w) => welcomes.push(w) });
    await until(() => conn.ready);
    expect(welcomes).toEqual([{ node: 'projector', cluster: 'colab', serial: 3, hubSig: expect.any(String) }]);
    expect(hub.received[0]).toMatchObject({
      type: 'hello',
      payload: { node: 'projector', lastSerial: 2, joinToken: 'jt_once', agentVersion: '0.0.0-test' },
    });
    expect(conn.send('bundle.get', {})).toBe(true);
    await until(() => hub.received.length === 2);
    expect(hub.received[1]?.type).toBe('bundle.get');
  });

  it('pings only a quiet hub, and drops a hub that misses a ping', async () => {
    // The hub never answers pings; while it sends frames the agent has no reason to ping it.
    const hub = await scriptedHub({ script: welcome, autoPong: false });
    cleanups.push(() => hub.close());
    const drops: unknown[] = [];
    const conn = connect(hub, { disconnected: (d) => drops.push(d) }, { pingMs: 50 });
    await until(() => conn.ready);
    const talk = setInterval(() => {
      for (const ws of hub.sockets) send(ws, 'bundle.none', {});
    }, 20);
    await new Promise((r) => setTimeout(r, 400));
    clearInterval(talk);
    expect(hub.pings).toBe(0);
    expect(drops).toEqual([]);
    // Quiet now: one ping, no pong, dropped at the next tick (1006: terminated, no close frame).
    await until(() => drops.length > 0, 2000);
    expect(hub.pings).toBe(1);
    expect(drops[0]).toMatchObject({ code: 1006, wasReady: true });
  });

  it('sends a due ping in the same write as its next frame, so the hub wakes once for both', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const conn = connect(hub, {}, { pingMs: 100 });
    await until(() => conn.ready);
    // The hub sends nothing after its welcome; the agent sends a frame every 30 ms, as health does every 15 s.
    const talk = setInterval(() => conn.send('bundle.get', { have: 2 }), 30);
    await until(() => hub.pings >= 2, 3000);
    clearInterval(talk);
    const withPing = hub.reads.filter((ops) => ops.includes(0x9));
    expect(withPing.length).toBeGreaterThanOrEqual(2);
    // Each ping follows a text frame in the same read (a slow reader may also find earlier frames there).
    for (const ops of withPing) expect(ops.flatMap((op, i) => (op === 0x9 ? [ops[i - 1]] : []))).toEqual([0x1]);
  });

  it('holds routine frames for the beat: frames queued apart leave in one write at the next multiple of beatMs', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const beatMs = 400;
    const conn = connect(hub, {}, { beatMs });
    await until(() => conn.ready);
    const readsBefore = hub.reads.length;
    await sleep(beatMs - (Date.now() % beatMs) + 20); // just after a beat
    const queuedAt = Date.now();
    expect(conn.sendOnBeat('bundle.get', { have: 2 })).toBe(true);
    await sleep(100);
    expect(conn.sendOnBeat('bundle.get', { have: 2 })).toBe(true);
    expect(hub.reads.length).toBe(readsBefore); // nothing left yet
    await until(() => hub.received.length === 3);
    const beat = Math.ceil(queuedAt / beatMs) * beatMs;
    expect(hub.reads.slice(readsBefore)).toEqual([[0x1, 0x1]]);
    // Node's timers run on the loop's cached clock, which may lag Date.now() by a few ms.
    expect(hub.readAt[readsBefore]).toBeGreaterThanOrEqual(beat - 10);
    expect(hub.readAt[readsBefore]).toBeLessThan(beat + beatMs);
  });

  it('drops routine frames still waiting for the beat when the connection closes', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const drops: unknown[] = [];
    const beatMs = 1000;
    const conn = connect(hub, { disconnected: (d) => drops.push(d) }, { beatMs });
    await until(() => conn.ready);
    await sleep(beatMs - (Date.now() % beatMs) + 20); // just after a beat
    const beat = Math.ceil(Date.now() / beatMs) * beatMs;
    expect(conn.sendOnBeat('bundle.get', { have: 2 })).toBe(true);
    for (const ws of hub.sockets) ws.terminate();
    await until(() => drops.length === 1);
    expect(conn.sendOnBeat('bundle.get', { have: 2 })).toBe(false);
    await until(() => conn.ready); // reconnected (backoff ≤ 100 ms) before the beat
    await sleep(beat + 100 - Date.now());
    expect(hub.received.map((m) => m.type)).toEqual(['hello', 'hello']);
  });

  it('refuses a hub whose key is not the pinned one and retries only after backoffMaxMs', async () => {
    const impostor = encodePublicKey(generateKeyPair().publicKey);
    const hub = await scriptedHub({ offerKey: impostor, script: welcome });
    cleanups.push(() => hub.close());
    const refusals: string[] = [];
    const conn = connect(hub, { refused: (err) => refusals.push(err.code) }, { backoffMaxMs: 400 });
    await until(() => refusals.length === 1);
    expect(refusals).toEqual(['STEMS_HUB_KEY_MISMATCH']);
    expect(hub.received).toEqual([]); // no hello, no signature handed to an impostor
    expect(conn.ready).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect(hub.connections).toBe(1); // not retried fast
    await until(() => hub.connections === 2, 2000);
  });

  it('refuses a welcome not signed by the pinned key', async () => {
    const forger = generateKeyPair();
    const hub = await scriptedHub({
      script: (ws, msg) => {
        if (msg.type !== 'hello') return;
        const hubSig = signBytes(Buffer.from(challengeText('hub', msg.payload.nonce, 'projector')), forger.secretKey);
        send(ws, 'welcome', { node: 'projector', cluster: 'colab', serial: 0, hubSig });
      },
    });
    cleanups.push(() => hub.close());
    const refusals: string[] = [];
    const welcomes: unknown[] = [];
    const conn = connect(hub, { refused: (err) => refusals.push(err.code), welcome: (w) => welcomes.push(w) });
    await until(() => refusals.length === 1);
    expect(welcomes).toEqual([]);
    expect(conn.ready).toBe(false);
  });

  it('waits while pending, then becomes ready when the hub welcomes', async () => {
    let helloNonce = '';
    let socket: WebSocket | undefined;
    const hub = await scriptedHub({
      script: (ws, msg) => {
        if (msg.type !== 'hello') return;
        helloNonce = msg.payload.nonce;
        socket = ws;
        send(ws, 'pending', { fingerprint: 'SHA256:abc' });
      },
    });
    cleanups.push(() => hub.close());
    const pending: string[] = [];
    const conn = connect(hub, { pending: (fp) => pending.push(fp) });
    await until(() => pending.length === 1);
    expect(conn.phase).toBe('pending');
    expect(conn.send('bundle.get', {})).toBe(false);
    const hubSig = signBytes(Buffer.from(challengeText('hub', helloNonce, 'projector')), hub.key.secretKey);
    if (!socket) throw new Error('no socket');
    send(socket, 'welcome', { node: 'projector', cluster: 'colab', serial: 0, hubSig });
    await until(() => conn.ready);
  });

  it('answers a malformed frame with an error frame and stays up', async () => {
    const hub = await scriptedHub({
      script: (ws, msg) => {
        welcome(ws, msg, hub);
        if (msg.type === 'hello') ws.send('{"v":1,"type":"nonsense"}');
      },
    });
    cleanups.push(() => hub.close());
    const conn = connect(hub, {});
    await until(() => hub.received.some((m) => m.type === 'error'));
    expect(hub.received.find((m) => m.type === 'error')).toMatchObject({ payload: { code: 'STEMS_WIRE_MALFORMED' } });
    await until(() => conn.ready);
  });

  it('reconnects with backoff after the hub drops the connection', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const disconnects: boolean[] = [];
    const conn = connect(hub, { disconnected: (d) => disconnects.push(d.wasReady) });
    await until(() => conn.ready);
    hub.sockets[0]?.terminate();
    await until(() => disconnects.length === 1);
    expect(disconnects).toEqual([true]);
    await until(() => hub.connections === 2 && conn.ready);
  });

  it('stop() closes the socket and stops reconnecting', async () => {
    const hub = await scriptedHub({ script: welcome });
    cleanups.push(() => hub.close());
    const conn = connect(hub, {});
    await until(() => conn.ready);
    await conn.stop();
    expect(conn.ready).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(hub.connections).toBe(1);
  });
});
