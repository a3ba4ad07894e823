import type { KeyPair, StemsError } from '@stems/shared';
import type { Logger } from 'pino';
import { HubConnection } from './client.js';

export type ProbeResult =
  | { status: 'accepted'; cluster: string; serial: number }
  | { status: 'pending'; fingerprint: string }
  | { status: 'refused'; error: StemsError }
  | { status: 'unreachable' };

export interface ProbeOptions {
  wsUrl: string;
  node: string;
  keyPair: KeyPair;
  hubKey: string;
  agentVersion: string;
  joinToken?: string | undefined;
  /** Give up after this long. @default 5000 */
  timeoutMs?: number;
  log: Logger;
}

/** One connection attempt, for `enroll`: how does the hub see this node right now? Never retries. */
export async function probeHub(opts: ProbeOptions): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  let settle: (r: ProbeResult) => void = () => {};
  const result = new Promise<ProbeResult>((resolve) => {
    settle = resolve;
  });
  const conn = new HubConnection({
    wsUrl: opts.wsUrl,
    node: opts.node,
    keyPair: opts.keyPair,
    hubKey: opts.hubKey,
    agentVersion: opts.agentVersion,
    lastSerial: () => 0,
    joinToken: () => opts.joinToken,
    // the probe stops at the first answer, so these only bound a stray retry
    backoffMinMs: timeoutMs,
    backoffMaxMs: timeoutMs,
    stableMs: timeoutMs,
    pingMs: timeoutMs,
    connectTimeoutMs: timeoutMs,
    log: opts.log,
    handlers: {
      welcome: (w) => settle({ status: 'accepted', cluster: w.cluster, serial: w.serial }),
      pending: (fingerprint) => settle({ status: 'pending', fingerprint }),
      refused: (error) => settle({ status: 'refused', error }),
      disconnected: () => settle({ status: 'unreachable' }),
    },
  });
  const timer = setTimeout(() => settle({ status: 'unreachable' }), timeoutMs);
  conn.start();
  const outcome = await result;
  clearTimeout(timer);
  await conn.stop();
  return outcome;
}
