import { randomBytes } from 'node:crypto';
import {
  type AgentMessage,
  type AgentMessageOf,
  challengeText,
  decodePublicKey,
  encodePublicKey,
  HubMessage,
  type HubMessageOf,
  isStemsError,
  Keepalive,
  type KeyPair,
  MAX_FRAME_BYTES,
  makeFrame,
  parseFrame,
  StemsError,
  signBytes,
  verifyBytes,
  type WireError,
} from '@stems/shared';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { Backoff } from './backoff.js';

export interface HubConnectionHandlers {
  /** A connection attempt starts (the first and every retry): lets a caller count retries. */
  connecting?(): void;
  /** The hub knows the key but has not accepted it yet; it sends welcome once accepted. */
  pending?(fingerprint: string): void;
  /** Authenticated both ways; frames can flow. */
  welcome?(welcome: HubMessageOf<'welcome'>['payload']): void;
  /** Any frame after welcome: bundle.available, bundle, bundle.none, ack, error. */
  message?(message: HubMessage): void;
  /** The hub refused us or is not our hub: the next attempt waits backoffMaxMs. */
  refused?(err: StemsError): void;
  disconnected?(info: { code: number; reason: string; wasReady: boolean }): void;
}

export interface HubConnectionOptions {
  /** ws(s)://…/api/v1/agent */
  wsUrl: string;
  node: string;
  keyPair: KeyPair;
  /** The pinned hub key, `ed25519:<base64>`. */
  hubKey: string;
  agentVersion: string;
  /** Highest accepted serial, read at each hello. */
  lastSerial(): number;
  /** A one-time join token to present in hello, if any. */
  joinToken?(): string | undefined;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Open this long after welcome → backoff resets. */
  stableMs: number;
  /** Keepalive period: a hub quiet this long is pinged, and dropped if it stays quiet one more (shared/keepalive.ts). */
  pingMs: number;
  /** Routine frames (sendOnBeat) leave at the next multiple of this many ms of the wall clock. @default BEAT_MS */
  beatMs?: number;
  /** HTTP upgrade timeout. @default 10000 */
  connectTimeoutMs?: number;
  log: Logger;
  handlers: HubConnectionHandlers;
  random?: () => number;
}

/**
 * The beat routine frames wait for: the agents of a cluster with synced clocks
 * send them on the same whole seconds. @default 1000
 */
export const BEAT_MS = 1_000;

/**
 * The beat for an agent whose heartbeat comes every healthMs: never longer,
 * or several samples would leave at once with gaps the hub counts as missed.
 */
export function beatFor(healthMs: number): number {
  return Math.min(BEAT_MS, healthMs);
}

type Phase = 'idle' | 'connecting' | 'hello-sent' | 'pending' | 'ready';
const SLOW_RETRY_CODES = new Set(['STEMS_NODE_REJECTED', 'STEMS_WIRE_AUTH_FAILED', 'STEMS_TOKEN_INVALID', 'STEMS_HUB_KEY_MISMATCH']);

type WsModule = typeof import('ws');
let wsModule: Promise<WsModule> | undefined;

/**
 * The agent's one outbound websocket to its hub: handshake (challenge → hello →
 * pending/welcome, both sides proven), reconnect with jittered capped backoff,
 * client-side pings. It never applies anything; the daemon reacts to handlers.
 */
export class HubConnection {
  readonly #opts: HubConnectionOptions;
  readonly #backoff: Backoff;
  readonly #pinned: Uint8Array;
  #ws: WebSocket | undefined;
  #phase: Phase = 'idle';
  #stopped = true;
  #slowRetry = false;
  #agentNonce = '';
  #frameSeq = 0;
  #generation = 0;
  #timers = new Set<NodeJS.Timeout>();
  #keepalive: Keepalive | undefined;
  /** The connection's TCP socket, to send a frame and a ping in one write. */
  #socket: { cork(): void; uncork(): void } | undefined;
  /** Set while a keepalive ping waits for a frame to ride with; fires to send it alone. */
  #pingDue: NodeJS.Timeout | undefined;
  /** Routine frames waiting for the beat, and the timer that sends them. */
  #onBeat: Array<{ type: AgentMessage['type']; payload: unknown }> = [];
  #beat: NodeJS.Timeout | undefined;
  #closed: Promise<void> = Promise.resolve();

  constructor(opts: HubConnectionOptions) {
    this.#opts = opts;
    this.#pinned = decodePublicKey(opts.hubKey);
    this.#backoff = new Backoff({
      backoffMinMs: opts.backoffMinMs,
      backoffMaxMs: opts.backoffMaxMs,
      ...(opts.random ? { random: opts.random } : {}),
    });
  }

  get ready(): boolean {
    return this.#phase === 'ready';
  }

  get phase(): Phase {
    return this.#phase;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#connect();
  }

  /** Closes the socket and stops reconnecting; resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#keepalive?.stop();
    this.#cancelPing();
    this.#dropBeat();
    const ws = this.#ws;
    if (ws && ws.readyState !== ws.CLOSED) {
      const force = setTimeout(() => ws.terminate(), 2_000);
      ws.close(1000, 'agent stopping');
      await this.#closed;
      clearTimeout(force);
    }
  }

  /** Sends a message once authenticated; false when not connected (the caller queues). */
  send<T extends AgentMessage['type']>(type: T, payload: AgentMessageOf<T>['payload']): boolean {
    if (this.#phase !== 'ready' || !this.#ws) return false;
    this.#raw(type, payload);
    return true;
  }

  /**
   * Sends a routine message (health, the safety-net poll) at the next beat:
   * the next multiple of beatMs (1 s) of the wall clock. Each agent keeps its
   * own phase within its period, but agents with synced clocks (NTP) all send
   * on the same instants, so the hub reads a second's heartbeats in a few
   * wake-ups instead of one each (bench/RESULTS.md, "Hub capacity"). Dropped if
   * the connection closes first: routine frames are never queued. False when
   * not connected.
   */
  sendOnBeat<T extends AgentMessage['type']>(type: T, payload: AgentMessageOf<T>['payload']): boolean {
    if (this.#phase !== 'ready' || !this.#ws) return false;
    this.#onBeat.push({ type, payload });
    if (this.#beat === undefined) {
      const beatMs = this.#opts.beatMs ?? BEAT_MS;
      this.#beat = setTimeout(() => this.#sendBeat(), beatMs - (Date.now() % beatMs)).unref();
    }
    return true;
  }

  #sendBeat(): void {
    this.#beat = undefined;
    const frames = this.#onBeat.splice(0);
    this.#socket?.cork();
    for (const { type, payload } of frames) this.#raw(type, payload);
    this.#socket?.uncork();
  }

  #dropBeat(): void {
    clearTimeout(this.#beat);
    this.#beat = undefined;
    this.#onBeat = [];
  }

  #raw(type: string, payload: unknown): void {
    const ws = this.#ws;
    if (!ws) return;
    const frame = makeFrame(type, payload, `a${++this.#frameSeq}`);
    if (this.#pingDue === undefined) {
      ws.send(frame);
      return;
    }
    this.#cancelPing();
    this.#socket?.cork();
    ws.send(frame);
    ws.ping();
    this.#socket?.uncork();
  }

  /**
   * A keepalive ping waits for the next frame the agent sends (health goes out
   * every 15 s) and leaves in the same write: the hub then wakes once for
   * both, a fifth fewer wake-ups with thousands of idle agents (bench/RESULTS.md,
   * "Hub capacity"). With nothing to send for half a period it goes alone, so
   * the hub still has the other half to answer before the keepalive's next tick.
   */
  #pingSoon(ws: WebSocket): void {
    this.#pingDue ??= setTimeout(() => {
      this.#pingDue = undefined;
      ws.ping();
    }, this.#opts.pingMs / 2).unref();
  }

  #cancelPing(): void {
    clearTimeout(this.#pingDue);
    this.#pingDue = undefined;
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    wsModule ??= import('ws');
    const { WebSocket } = await wsModule;
    if (this.#stopped) return;
    this.#phase = 'connecting';
    this.#generation++;
    this.#opts.handlers.connecting?.();
    const log = this.#opts.log;
    log.debug({ url: this.#opts.wsUrl }, 'connecting to hub');
    const ws = new WebSocket(this.#opts.wsUrl, {
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: this.#opts.connectTimeoutMs ?? 10_000,
    });
    this.#ws = ws;
    let resolveClosed: () => void = () => {};
    this.#closed = new Promise((r) => {
      resolveClosed = r;
    });
    // Handlers are attached synchronously, before any await (STYLE 7).
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('upgrade', (res) => {
      this.#socket = res.socket;
    });
    ws.on('ping', () => this.#keepalive?.heard());
    ws.on('pong', () => this.#keepalive?.heard());
    ws.on('error', (err) => log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'hub connection error'));
    ws.on('close', (code, reason) => {
      resolveClosed();
      this.#onClose(code, reason.toString('utf8'));
    });
    ws.on('open', () => {
      this.#keepalive = new Keepalive(
        this.#opts.pingMs,
        () => this.#pingSoon(ws),
        () => {
          log.warn('hub missed a pong; dropping the connection');
          ws.terminate();
        },
      );
    });
  }

  #onClose(code: number, reason: string): void {
    this.#keepalive?.stop();
    this.#cancelPing();
    this.#dropBeat();
    this.#socket = undefined;
    const wasReady = this.#phase === 'ready';
    this.#phase = 'idle';
    this.#ws = undefined;
    this.#opts.handlers.disconnected?.({ code, reason, wasReady });
    if (this.#stopped) return;
    const delayMs = this.#slowRetry ? this.#backoff.max() : this.#backoff.next();
    this.#slowRetry = false;
    this.#opts.log.info({ code, reason, delayMs }, 'hub connection closed; reconnecting');
    this.#later(() => void this.#connect(), delayMs);
  }

  #refuse(err: StemsError): void {
    this.#slowRetry = true;
    this.#opts.log.error({ err: err.toJSON() }, 'hub refused or not trusted');
    this.#opts.handlers.refused?.(err);
    this.#ws?.close(4000, err.code);
  }

  #protocolError(error: WireError): void {
    this.#opts.log.warn({ error }, 'bad frame from hub');
    this.#raw('error', error);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.#keepalive?.heard();
    if (isBinary || !Buffer.isBuffer(data)) {
      this.#protocolError({ code: 'STEMS_WIRE_MALFORMED', message: 'Binary frames are not part of the protocol' });
      return;
    }
    const parsed = parseFrame(HubMessage, data);
    if (!parsed.ok) {
      this.#protocolError(parsed.error);
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case 'challenge':
        this.#onChallenge(msg);
        return;
      case 'pending':
        if (this.#phase !== 'hello-sent' && this.#phase !== 'pending') {
          this.#unexpected(msg.type);
          return;
        }
        this.#phase = 'pending';
        this.#opts.log.info({ fingerprint: msg.payload.fingerprint }, 'node key pending acceptance on the hub');
        this.#opts.handlers.pending?.(msg.payload.fingerprint);
        return;
      case 'welcome':
        this.#onWelcome(msg);
        return;
      case 'error':
        if (this.#phase !== 'ready') {
          const err = new StemsError(msg.payload.code, msg.payload.message, { ...(msg.payload.hint ? { hint: msg.payload.hint } : {}) });
          if (SLOW_RETRY_CODES.has(msg.payload.code)) {
            this.#refuse(err);
            return;
          }
          this.#opts.log.warn({ error: msg.payload }, 'hub sent an error during the handshake');
          return;
        }
        this.#opts.handlers.message?.(msg);
        return;
      default:
        if (this.#phase !== 'ready') {
          this.#unexpected(msg.type);
          return;
        }
        this.#opts.handlers.message?.(msg);
    }
  }

  #unexpected(type: string): void {
    this.#protocolError({ code: 'STEMS_WIRE_UNEXPECTED', message: `Unexpected ${type} in phase ${this.#phase}` });
  }

  #onChallenge(msg: HubMessageOf<'challenge'>): void {
    if (this.#phase !== 'connecting') {
      this.#unexpected(msg.type);
      return;
    }
    let offered: Uint8Array | undefined;
    try {
      offered = decodePublicKey(msg.payload.hubKey);
    } catch (err) {
      if (!isStemsError(err)) throw err;
      offered = undefined; // an undecodable key is simply not ours; refused below
    }
    if (!offered || !Buffer.from(offered).equals(Buffer.from(this.#pinned))) {
      this.#refuse(
        new StemsError(
          'STEMS_HUB_KEY_MISMATCH',
          `Hub at ${this.#opts.wsUrl} presented key ${msg.payload.hubKey}, not the pinned ${this.#opts.hubKey}`,
          {
            hint: 'Check the hub URL. If the hub key was rotated on purpose, re-enroll with the new key (`hub key` prints it).',
          },
        ),
      );
      return;
    }
    const { node, keyPair } = this.#opts;
    this.#agentNonce = randomBytes(32).toString('base64url');
    const joinToken = this.#opts.joinToken?.();
    this.#raw('hello', {
      node,
      publicKey: encodePublicKey(keyPair.publicKey),
      sig: signBytes(Buffer.from(challengeText('agent', msg.payload.nonce, node)), keyPair.secretKey),
      nonce: this.#agentNonce,
      agentVersion: this.#opts.agentVersion,
      lastSerial: this.#opts.lastSerial(),
      ...(joinToken ? { joinToken } : {}),
    });
    this.#phase = 'hello-sent';
  }

  #onWelcome(msg: HubMessageOf<'welcome'>): void {
    if (this.#phase !== 'hello-sent' && this.#phase !== 'pending') {
      this.#unexpected(msg.type);
      return;
    }
    const { node } = this.#opts;
    const proof = Buffer.from(challengeText('hub', this.#agentNonce, node));
    if (msg.payload.node !== node || !verifyBytes(proof, msg.payload.hubSig, this.#pinned)) {
      this.#refuse(
        new StemsError('STEMS_HUB_KEY_MISMATCH', `Hub at ${this.#opts.wsUrl} could not prove it holds the pinned key`, {
          hint: 'Something answered in the hub’s place. Check the hub URL and the network path.',
        }),
      );
      return;
    }
    this.#phase = 'ready';
    this.#opts.log.info({ cluster: msg.payload.cluster, serial: msg.payload.serial }, 'connected to hub');
    const generation = this.#generation;
    this.#later(() => {
      if (this.#phase === 'ready' && this.#generation === generation) this.#backoff.reset();
    }, this.#opts.stableMs);
    this.#opts.handlers.welcome?.(msg.payload);
  }
}
