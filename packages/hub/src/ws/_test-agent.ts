import { randomBytes } from 'node:crypto';
import {
  AGENT_WS_PATH,
  type AgentMessage,
  challengeText,
  encodePublicKey,
  generateKeyPair,
  HubMessage,
  type KeyPair,
  makeFrame,
  parseFrame,
  signBytes,
} from '@stems/shared';
import { WebSocket } from 'ws';

/** A minimal agent over a real websocket, for protocol tests. */
export class TestAgent {
  readonly received: HubMessage[] = [];
  /** How many pings the hub sent. */
  pings = 0;
  readonly nonce = randomBytes(32).toString('base64url');
  closed: { code: number; reason: string } | null = null;
  #waiters: (() => void)[] = [];
  #seq = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly node: string,
    readonly key: KeyPair,
  ) {
    ws.on('ping', () => this.pings++);
    ws.on('message', (data) => {
      const parsed = parseFrame(HubMessage, data as Buffer);
      if (!parsed.ok) throw new Error(`hub sent a bad frame: ${parsed.error.message}`);
      this.received.push(parsed.message);
      for (const w of this.#waiters.splice(0)) w();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async connect(
    baseUrl: string,
    node: string,
    key: KeyPair = generateKeyPair(),
    opts: { autoPong?: boolean } = {},
  ): Promise<TestAgent> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + AGENT_WS_PATH, { autoPong: opts.autoPong ?? true });
    const agent = new TestAgent(ws, node, key);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return agent;
  }

  /** Waits for the next message of a type (after `from`), or for the socket to close. */
  async next<T extends HubMessage['type']>(type: T, from = 0, timeoutMs = 5000): Promise<Extract<HubMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find((m): m is Extract<HubMessage, { type: T }> => m.type === type);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms; got ${this.received.map((m) => m.type).join(',')}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  send<T extends AgentMessage['type']>(type: T, payload: Extract<AgentMessage, { type: T }>['payload']): string {
    const id = `a${++this.#seq}`;
    this.ws.send(makeFrame<AgentMessage>(type, payload, id));
    return id;
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Answers the challenge with a signed hello. */
  async hello(extra: { joinToken?: string; signAs?: string } = {}): Promise<void> {
    const challenge = await this.next('challenge');
    const sig = signBytes(Buffer.from(challengeText('agent', challenge.payload.nonce, extra.signAs ?? this.node)), this.key.secretKey);
    this.send('hello', {
      node: this.node,
      publicKey: encodePublicKey(this.key.publicKey),
      sig,
      nonce: this.nonce,
      agentVersion: 'test',
      lastSerial: 0,
      ...(extra.joinToken ? { joinToken: extra.joinToken } : {}),
    });
  }

  close(): void {
    this.ws.close();
  }
}
