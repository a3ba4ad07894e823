import {
  type ApplyReport,
  type BundlePayload,
  decodePublicKey,
  isStemsError,
  type StemsError,
  sha256Hex,
  toStemsError,
  verifyEnvelope,
} from '@stems/shared';
import type { Logger } from 'pino';
import { z } from 'zod';
import { agentVersion } from '../cli/version.js';
import type { AgentState } from '../state/store.js';

export interface TrustAnchor {
  /** Pinned hub key, `ed25519:<base64>`. */
  hubKey: string;
  node: string;
  cluster: string;
}

export interface ReceiveOptions extends Omit<TrustAnchor, 'cluster'> {
  /**
   * The pinned cluster; undefined before the agent has learned one. Then the
   * cluster the bundle names is taken (trust on first use, under the pinned
   * hub key's signature) and the caller pins it after acceptance.
   */
  cluster: string | undefined;
  state: AgentState;
  now: Date;
  log: Logger;
  /** Applies a verified payload (engine + facts); called only after the serial and envelope are on disk. */
  apply(payload: BundlePayload): Promise<ApplyReport>;
  /** Hash of the facts the apply will use, for the rejection report. */
  factsHash: string;
}

export type ReceiveOutcome =
  | { accepted: true; payload: BundlePayload; report: ApplyReport }
  | { accepted: false; error: StemsError; report: ApplyReport };

/**
 * Ties a payload text to the agent build that checked it against the schema
 * at acceptance. Re-reading the last good bundle (every `apply --once`, every
 * start) then skips the schema pass for those exact bytes; an upgraded agent
 * checks them again.
 */
function schemaStamp(payloadText: string): string {
  return `${agentVersion()} ${sha256Hex(Buffer.from(payloadText, 'utf8'))}\n`;
}

const ClaimedEnvelope = z.object({ payload: z.string() });
const ClaimedPayload = z.object({ serial: z.number().int().nonnegative().catch(0), cluster: z.string().catch('') });

/**
 * What an unverified bundle claims (serial, cluster). Used only to label a
 * rejection report and as the expectation before a cluster is pinned:
 * verifyEnvelope still checks the signature before anything is believed.
 */
function claimed(envelopeText: string): { serial: number; cluster: string } {
  const none = { serial: 0, cluster: '' };
  try {
    const envelope = ClaimedEnvelope.safeParse(JSON.parse(envelopeText));
    if (!envelope.success) return none;
    const payload = ClaimedPayload.safeParse(JSON.parse(envelope.data.payload));
    return payload.success ? payload.data : none;
  } catch (err) {
    if (err instanceof SyntaxError) return none; // not JSON: verification says so
    throw err;
  }
}

function rejection(envelopeText: string, error: StemsError, opts: ReceiveOptions): ApplyReport {
  return {
    serial: claimed(envelopeText).serial,
    status: 'rejected',
    startedAt: opts.now.toISOString(),
    durationMs: 0,
    resources: [],
    factsHash: opts.factsHash,
    error: error.toJSON(),
  };
}

/**
 * Takes a bundle envelope from the hub: verify first (signature by the pinned
 * key, node, cluster, serial above the last accepted, not expired, files
 * whole). On failure nothing is written or applied and a `rejected` report
 * comes back. On success: serial (fsync) → envelope → apply → report, in that
 * order, so a crash at any point cannot lower the serial.
 */
export async function receiveBundle(envelopeText: string, opts: ReceiveOptions): Promise<ReceiveOutcome> {
  const { state, log } = opts;
  let payload: BundlePayload;
  let payloadText: string;
  try {
    ({
      payload,
      envelope: { payload: payloadText },
    } = verifyEnvelope(envelopeText, {
      trustedKeys: [decodePublicKey(opts.hubKey)],
      node: opts.node,
      cluster: opts.cluster ?? claimed(envelopeText).cluster,
      lastSerial: await state.lastSerial(),
      now: opts.now,
    }));
  } catch (err) {
    if (!isStemsError(err)) throw err;
    log.warn({ err: err.toJSON() }, 'bundle rejected');
    const report = rejection(envelopeText, err, opts);
    return { accepted: false, error: err, report };
  }
  await state.acceptSerial(payload.serial);
  if (opts.cluster === undefined) await state.setCluster(payload.cluster);
  await state.writeBundle(envelopeText);
  await state.writeSchemaStamp(schemaStamp(payloadText));
  log.info({ serial: payload.serial, commit: payload.revision.commit }, 'bundle accepted; applying');
  const report = await opts.apply(payload);
  await state.writeLastReport(report);
  return { accepted: true, payload, report };
}

/**
 * The last good bundle, re-verified at start (`stored`: equal serial and an
 * expired bundle are fine, it is still what the node must look like). A stored
 * bundle that no longer verifies is ignored: it is not enforced. The schema
 * pass is skipped for bytes this agent build stamped; a full pass stamps them.
 */
export async function loadLastGood(
  state: AgentState,
  anchor: TrustAnchor & { now: Date; log: Logger },
): Promise<{ payload: BundlePayload; expired: boolean; identity: string } | undefined> {
  const text = await state.readBundle();
  if (text === undefined) return undefined;
  const stamp = await state.readSchemaStamp();
  let restamp: string | undefined;
  let current = '';
  let verified: { payload: BundlePayload };
  try {
    verified = verifyEnvelope(text, {
      trustedKeys: [decodePublicKey(anchor.hubKey)],
      node: anchor.node,
      cluster: anchor.cluster,
      lastSerial: await state.lastSerial(),
      now: anchor.now,
      stored: true,
      schemaChecked: (payloadText) => {
        current = schemaStamp(payloadText);
        if (stamp !== current) restamp = current;
        return restamp === undefined;
      },
    });
  } catch (err) {
    if (!isStemsError(err)) throw err;
    anchor.log.error({ err: err.toJSON(), path: state.bundlePath }, 'stored bundle does not verify; not enforcing it');
    return undefined;
  }
  // checked in full just now (first start of an upgraded agent): the next load can skip it
  if (restamp !== undefined) await state.writeSchemaStamp(restamp);
  const { payload } = verified;
  // This agent build and these payload bytes: what engine/rendered.ts keys its digests on.
  return { payload, expired: anchor.now.getTime() >= Date.parse(payload.expiresAt), identity: current.trim() };
}

/** A report for an apply that threw instead of reporting (engine bug, disk gone). */
export function failedReport(payload: BundlePayload, err: unknown, factsHash: string, startedAt: Date): ApplyReport {
  return {
    serial: payload.serial,
    commit: payload.revision.commit,
    status: 'failed',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    resources: [],
    factsHash,
    error: toStemsError(err, 'STEMS_APPLY_FAILED').toJSON(),
  };
}
