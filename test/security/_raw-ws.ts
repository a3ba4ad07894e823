import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { AGENT_WS_PATH } from '@stems/shared';

/**
 * A websocket client written on a raw TCP socket, so a test can send what no
 * well-behaved library would: a 1 GiB length header, 100k fragments, bytes at
 * 1 byte/s. It reads the hub's frames back (unmasked, server to client).
 */
export interface RawConnection {
  socket: Socket;
  /** The HTTP response head the hub sent to the upgrade request. */
  responseHead: string;
  /** Text frames the hub sent, decoded (JSON where possible). */
  frames(): unknown[];
  /** Close code the hub sent (1000+), or undefined. */
  closeCode(): number | undefined;
  /** Resolves with ms since `since` when the hub ends the TCP connection. */
  closedAfter(since: number): Promise<number>;
  write(bytes: Buffer): Promise<void>;
}

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8 } as const;

/** A masked client frame. `announce` puts a length in the header other than the payload's (the payload is still what is sent). */
export function clientFrame(opts: { opcode: number; payload?: Buffer; fin?: boolean; announce?: number }): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const length = opts.announce ?? payload.length;
  const head: number[] = [(opts.fin === false ? 0 : 0x80) | opts.opcode];
  if (length < 126) head.push(0x80 | length);
  else if (length < 65_536) head.push(0x80 | 126, length >> 8, length & 0xff);
  else {
    head.push(0x80 | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(...big);
  }
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

function parseServerFrames(bytes: Buffer): { texts: string[]; close?: number } {
  const texts: string[] = [];
  let close: number | undefined;
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > bytes.length) break;
    const body = bytes.subarray(start, start + length);
    if (opcode === OP.text) texts.push(body.toString('utf8'));
    if (opcode === OP.close && body.length >= 2) close = body.readUInt16BE(0);
    at = start + length;
  }
  return { texts, ...(close ? { close } : {}) };
}

/** Raw bytes of an upgrade request for the agent endpoint, with extra header lines. */
export function upgradeRequest(port: number, extraHeaders: string[] = []): string {
  return [
    `GET ${AGENT_WS_PATH} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...extraHeaders,
    '',
    '',
  ].join('\r\n');
}

/** Opens a TCP connection to the hub (no upgrade yet); `ended` resolves when the hub closes it. */
export function rawSocket(port: number): Promise<{ socket: Socket; data: () => Buffer; ended: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // the hub resetting the socket is one of the ways it may end an abusive connection
    socket.on('error', () => socket.destroy());
    const ended = new Promise<number>((done) => socket.once('close', () => done(performance.now())));
    socket.once('connect', () => resolve({ socket, data: () => Buffer.concat(chunks), ended }));
    socket.once('error', reject);
  });
}

/** Opens the agent websocket by hand and waits for the 101 response. */
export async function rawConnect(port: number, extraHeaders: string[] = []): Promise<RawConnection> {
  const { socket, data, ended } = await rawSocket(port);
  socket.write(upgradeRequest(port, extraHeaders));
  const deadline = Date.now() + 5000;
  while (!data().includes('\r\n\r\n')) {
    if (Date.now() > deadline || socket.destroyed) throw new Error(`no upgrade response: ${data().toString('latin1')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const all = data();
  const headEnd = all.indexOf('\r\n\r\n') + 4;
  const responseHead = all.subarray(0, headEnd).toString('latin1');
  if (!responseHead.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${responseHead}`);
  const frames = () => parseServerFrames(data().subarray(headEnd));
  return {
    socket,
    responseHead,
    frames: () =>
      frames().texts.map((t) => {
        try {
          return JSON.parse(t);
        } catch (err) {
          if (err instanceof SyntaxError) return t;
          throw err;
        }
      }),
    closeCode: () => frames().close,
    closedAfter: async (since) => (await ended) - since,
    write: (bytes) =>
      new Promise<void>((ok) => {
        if (socket.destroyed) ok();
        else socket.write(bytes, () => ok());
      }),
  };
}
