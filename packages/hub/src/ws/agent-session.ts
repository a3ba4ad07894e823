import { randomBytes } from 'node:crypto';
import {
  AgentMessage,
  type AgentMessageOf,
  canonicalJson,
  challengeText,
  decodePublicKey,
  type ErrorCode,
  encodePublicKey,
  fingerprintOf,
  type HubMessage,
  Keepalive,
  makeBundleFrame,
  makeFrame,
  parseFrame,
  sha256Hex,
  signBytes,
  verifyBytes,
} from '@stems/shared';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { WebSocket } from 'ws';
import { storedPayload } from '../approval/payload.js';
import type { HubCore } from '../core.js';
import type { Liveness } from './liveness.js';
import type { AgentConnection, AgentRegistry } from './registry.js';

/** Bad frames tolerated on one connection before the hub closes it. @default 10 */
export const MAX_BAD_FRAMES = 10;
/**
 * Time a new connection has to send its hello. A real agent answers the
 * challenge in milliseconds; a silent or trickling client is closed this soon.
 * @default 4000
 */
export const HELLO_TIMEOUT_MS = 4_000;
/**
 * Bytes a connection may send before its hello verifies. A hello frame is
 * about 1 KiB; the cap bounds what an unauthenticated client can make the hub
 * buffer (ws caps a message's payload bytes, not its count of fragments).
 * @default 64 KiB
 */
export const MAX_PREAUTH_BYTES = 64 * 1024;
/** Time a closed connection has to answer the close frame before it is cut. @default 500 */
export const CLOSE_GRACE_MS = 500;

export interface SessionOptions {
  hub: HubCore;
  registry: AgentRegistry;
  log: Logger;
  /** Keepalive period: an agent quiet this long is pinged, and terminated if it stays quiet one more (shared/keepalive.ts). */
  pingMs: number;
  /** Write-behind for last_seen and health samples. */
  liveness: Liveness;
  /** @default HELLO_TIMEOUT_MS */
  helloTimeoutMs?: number;
  /** The TCP socket under the websocket, to count the bytes sent before hello (MAX_PREAUTH_BYTES). */
  transport?: {
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
    off(event: 'data', listener: (chunk: Buffer) => void): unknown;
    destroy(): void;
  };
}

type Phase = 'challenged' | 'pending' | 'ready' | 'closed';
type Hello = AgentMessageOf<'hello'>['payload'];

/**
 * One agent connection: challenge → hello → pending | welcome, then facts,
 * bundle pulls, reports, drift and health. Handlers are attached in the
 * constructor, synchronously, so no frame is missed.
 */
export class AgentSession implements AgentConnection {
  #phase: Phase = 'challenged';
  #hello: Hello | null = null;
  #nonce = randomBytes(32).toString('base64url');
  #seq = 0;
  #badFrames = 0;
  #preAuthBytes = 0;
  readonly #keepalive: Keepalive;
  #helloTimer: NodeJS.Timeout;
  #log: Logger;

  constructor(
    private readonly socket: WebSocket,
    private readonly opts: SessionOptions,
  ) {
    this.#log = opts.log;
    socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on('ping', () => this.#heard());
    socket.on('pong', () => this.#heard());
    socket.on('close', () => this.#onClose());
    socket.on('error', (err) => {
      // A protocol violation (oversized or bad frame): ws sent its close code; drop the peer now.
      this.#log.warn({ err }, 'agent socket error; terminating');
      this.#phase = 'closed';
      socket.terminate();
    });
    this.#keepalive = new Keepalive(
      opts.pingMs,
      () => socket.ping(),
      () => {
        this.#log.info('agent missed a pong; terminating');
        socket.terminate();
      },
    );
    this.#helloTimer = setTimeout(() => {
      if (this.#phase === 'challenged') this.#fail('STEMS_WIRE_UNEXPECTED', 'No hello in time');
    }, opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS);
    this.#helloTimer.unref();
    opts.transport?.on('data', this.#onPreAuthData);
    this.#send('challenge', { nonce: this.#nonce, hubKey: encodePublicKey(opts.hub.key.publicKey) });
  }

  get node(): string {
    return this.#hello?.node ?? '';
  }

  get publicKey(): string {
    return this.#hello?.publicKey ?? '';
  }

  announce(serial: number): void {
    if (this.#phase === 'ready') this.#send('bundle.available', { serial });
  }

  accepted(): void {
    if (this.#phase === 'pending' && this.opts.hub.store.nodes.get(this.node)?.publicKey === this.publicKey) this.#welcome();
  }

  revoked(): void {
    this.#fail('STEMS_NODE_REJECTED', `Node ${this.node} was rejected or revoked on the hub`);
  }

  #send<T extends HubMessage['type']>(type: T, payload: Extract<HubMessage, { type: T }>['payload']): void {
    this.#write((id) => makeFrame<HubMessage>(type, payload, id));
  }

  /** Sends the frame `build` makes with the next frame id, if the socket is still open. */
  #write(build: (id: string) => string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(build(`h${++this.#seq}`));
  }

  #error(code: ErrorCode, message: string): void {
    this.#send('error', { code, message });
  }

  /** Sends an error and closes (policy violation). */
  #fail(code: ErrorCode, message: string): void {
    this.#log.warn({ code, node: this.node || undefined }, 'closing agent connection');
    this.#error(code, message);
    this.#phase = 'closed';
    this.socket.close(1008, code);
    // ws waits 30 s for the peer's close frame; a hostile peer never sends one.
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  #bad(code: ErrorCode, message: string): void {
    this.#badFrames++;
    if (this.#badFrames >= MAX_BAD_FRAMES) this.#fail(code, `${message} (too many bad frames, closing)`);
    else this.#error(code, message);
  }

  /** Counts what the peer sends until its hello is verified (then it is removed). */
  readonly #onPreAuthData = (chunk: Buffer): void => this.#countPreAuth(chunk.length);

  #countPreAuth(bytes: number): void {
    if (this.#phase !== 'challenged') return;
    this.#preAuthBytes += bytes;
    if (this.#preAuthBytes <= MAX_PREAUTH_BYTES) return;
    this.#log.warn({ bytes: this.#preAuthBytes }, 'unauthenticated connection sent too much; dropping it');
    this.#phase = 'closed';
    // No close handshake: a client flooding before hello gets no more of our time.
    this.opts.transport?.destroy();
  }

  #onMessage(data: unknown, isBinary: boolean): void {
    if (this.#phase === 'closed') return;
    if (isBinary || !Buffer.isBuffer(data)) {
      this.#bad('STEMS_WIRE_MALFORMED', 'Frames are JSON text');
      return;
    }
    const parsed = parseFrame(AgentMessage, data);
    if (!parsed.ok) {
      this.#bad(parsed.error.code, parsed.error.message);
      return;
    }
    this.#keepalive.heard();
    try {
      this.#handle(parsed.message);
    } catch (err) {
      // One frame's failure must not take the hub (or the connection) down.
      this.#log.error({ err, type: parsed.message.type }, 'agent frame failed');
      this.#error('STEMS_INTERNAL', `The hub failed to handle ${parsed.message.type}`);
    }
  }

  #handle(message: AgentMessage): void {
    if (message.type === 'error') {
      this.#log.warn({ code: message.payload.code, message: message.payload.message }, 'agent sent an error');
      return;
    }
    if (this.#phase === 'challenged') {
      if (message.type !== 'hello') this.#bad('STEMS_WIRE_UNEXPECTED', `Expected hello, got ${message.type}`);
      else this.#onHello(message.payload);
      return;
    }
    if (message.type === 'hello') {
      this.#bad('STEMS_WIRE_UNEXPECTED', 'hello was already received on this connection');
      return;
    }
    const store = this.opts.hub.store;
    const node = store.nodes.access(this.node);
    if (this.#phase === 'pending' && node?.state === 'accepted' && node.publicKey === this.publicKey) {
      // Accepted by another process on this data dir (no live notice reached us): welcome now.
      this.#welcome();
    }
    if (this.#phase === 'pending' || node?.state !== 'accepted') {
      // A key that is not accepted hears `pending` and nothing else.
      this.#send('pending', { fingerprint: node?.fingerprint ?? '' });
      return;
    }
    const at = this.opts.hub.now().toISOString();
    this.#touch(at);
    switch (message.type) {
      case 'bundle.get':
        this.#sendBundle(message.payload.have);
        return;
      case 'facts': {
        // An agent sends its facts at every (re)connect: unchanged facts are not written again.
        const hash = sha256Hex(canonicalJson(message.payload.facts));
        if (store.nodes.get(this.node)?.factsHash !== hash) store.nodes.setFacts(this.node, message.payload.facts, hash);
        break;
      }
      case 'report':
        store.events.addReport(this.node, message.payload, at);
        this.#log.info({ serial: message.payload.serial, status: message.payload.status }, 'apply report');
        break;
      case 'drift':
        store.events.addDrift(this.node, message.payload, at);
        break;
      case 'health':
        // Written behind and not acked: health comes every 15 s from every node and is never re-sent.
        this.opts.liveness.health(this.node, message.payload);
        return;
    }
    this.#send('ack', { of: message.id });
  }

  #onHello(hello: Hello): void {
    let publicKey: Uint8Array;
    try {
      publicKey = decodePublicKey(hello.publicKey);
    } catch (err) {
      this.#log.warn({ err }, 'hello with an invalid key');
      this.#fail('STEMS_WIRE_AUTH_FAILED', 'hello carries no valid ed25519 public key');
      return;
    }
    if (!verifyBytes(Buffer.from(challengeText('agent', this.#nonce, hello.node)), hello.sig, publicKey)) {
      this.#fail('STEMS_WIRE_AUTH_FAILED', 'The challenge signature does not verify');
      return;
    }
    this.#hello = { ...hello, publicKey: encodePublicKey(publicKey) };
    this.#log = this.#log.child({ node: hello.node });
    const { hub } = this.opts;
    const fingerprint = fingerprintOf(publicKey);
    const at = hub.now().toISOString();
    const existing = hub.store.nodes.get(hello.node);
    const sameKey = existing?.publicKey === this.publicKey;
    if (existing && !sameKey && (existing.state === 'accepted' || existing.state === 'pending')) {
      this.#fail('STEMS_WIRE_AUTH_FAILED', `Node ${hello.node} is on record with another key`);
      return;
    }
    if (existing && sameKey && (existing.state === 'rejected' || existing.state === 'revoked')) {
      this.#fail('STEMS_NODE_REJECTED', `Node ${hello.node} was ${existing.state} on the hub`);
      return;
    }
    const joined = hello.joinToken !== undefined && existing?.state !== 'accepted' && this.#consumeJoin(hello.joinToken, at);
    if (!existing || !sameKey || joined) {
      // New node, or a fresh key after a reject/revoke: on record as pending, or accepted by a join token.
      hub.store.transaction(() => {
        hub.store.nodes.upsert({ name: hello.node, publicKey: this.publicKey, fingerprint, state: joined ? 'accepted' : 'pending', at });
        if (joined) {
          hub.store.audit.append({ at, actor: 'join-token', action: 'node.accept', target: hello.node, details: { fingerprint } });
        }
      });
      this.#log.info({ fingerprint, joined }, joined ? 'node enrolled with a join token' : 'new node waits for acceptance');
    } else {
      this.#touch(at);
    }
    if (hello.joinToken !== undefined && !joined && existing?.state !== 'accepted') {
      this.#error('STEMS_TOKEN_INVALID', 'The join token is unknown, used or expired; the node waits for acceptance');
    }
    // Authenticated: the pre-auth byte count has done its job for this connection.
    this.opts.transport?.off('data', this.#onPreAuthData);
    this.opts.registry.add(this);
    if (hub.store.nodes.get(hello.node)?.state === 'accepted') this.#welcome();
    else {
      this.#phase = 'pending';
      this.#send('pending', { fingerprint });
    }
  }

  #consumeJoin(token: string, at: string): boolean {
    return this.opts.hub.store.tokens.consumeJoin(token, this.node, at);
  }

  #welcome(): void {
    const { hub } = this.opts;
    const latest = hub.store.bundles.latest(this.node);
    const cluster = latest ? storedPayload(latest.envelope).cluster : (hub.store.revisions.latestCluster() ?? '');
    const hubSig = signBytes(Buffer.from(challengeText('hub', this.#hello?.nonce ?? '', this.node)), hub.key.secretKey);
    this.#phase = 'ready';
    this.#send('welcome', { node: this.node, cluster, hubSig, serial: latest?.serial ?? 0 });
    this.#log.info({ serial: latest?.serial ?? 0 }, 'agent welcomed');
  }

  /** Answers a pull with the node's latest bundle (or bundle.none), and with nothing when that is what the agent holds (`have`). */
  #sendBundle(have: number | undefined): void {
    const { bundles } = this.opts.hub.store;
    // Asking for the serial first reads no envelope when the agent is current (every poll).
    if (have !== undefined && bundles.latestSerial(this.node) === have) return;
    const latest = bundles.latest(this.node);
    if (latest) this.#write((id) => makeBundleFrame(latest.envelope, id));
    else this.#send('bundle.none', {});
  }

  /** A ping or pong from the agent: it is alive (and, once welcomed, seen). */
  #heard(): void {
    this.#keepalive.heard();
    if (this.#phase === 'ready') this.#touch(this.opts.hub.now().toISOString());
  }

  #touch(at: string): void {
    this.opts.liveness.touch(this.node, at);
  }

  #onClose(): void {
    this.#phase = 'closed';
    this.#keepalive.stop();
    clearTimeout(this.#helloTimer);
    this.opts.registry.remove(this);
  }
}
