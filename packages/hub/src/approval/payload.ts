import { BUNDLE_FORMAT, BundlePayload, type KeyPair, StemsError, signPayload } from '@stems/shared';

/** What the compiler produces for one node; approval adds format, serial, times and approval. */
export type NodeDesired = Omit<BundlePayload, 'format' | 'serial' | 'issuedAt' | 'expiresAt' | 'approval'>;

export interface SignedBundle {
  payload: BundlePayload;
  /** The envelope JSON text as stored and sent. */
  envelope: string;
}

/**
 * Builds a payload, serializes it ONCE and signs those exact bytes; the
 * envelope carries that same text, so what the agent verifies is what was signed.
 */
export function signBundle(
  desired: NodeDesired,
  meta: { serial: number; issuedAt: Date; lifetimeSec: number; approval: BundlePayload['approval'] },
  key: KeyPair,
): SignedBundle {
  const payload: BundlePayload = {
    format: BUNDLE_FORMAT,
    ...desired,
    serial: meta.serial,
    issuedAt: meta.issuedAt.toISOString(),
    expiresAt: new Date(meta.issuedAt.getTime() + meta.lifetimeSec * 1000).toISOString(),
    approval: meta.approval,
  };
  const text = JSON.stringify(payload);
  return { payload, envelope: JSON.stringify(signPayload(text, key)) };
}

/** Reads back the payload of an envelope this hub stored (its own output, re-checked anyway). */
export function storedPayload(envelopeText: string): BundlePayload {
  const envelope: unknown = JSON.parse(envelopeText);
  const text = typeof envelope === 'object' && envelope !== null && 'payload' in envelope ? envelope.payload : undefined;
  const parsed = typeof text === 'string' ? BundlePayload.safeParse(JSON.parse(text)) : undefined;
  if (!parsed?.success) {
    throw new StemsError('STEMS_BUNDLE_MALFORMED', 'A stored bundle does not parse as stems.bundle/v1', {
      hint: 'The hub database is damaged; approve the revision again to issue a fresh bundle.',
    });
  }
  return parsed.data;
}

/** The desired part of a stored payload, to diff it against a new compile. */
export function desiredOf(payload: BundlePayload): NodeDesired {
  const { format: _f, serial: _s, issuedAt: _i, expiresAt: _e, approval: _a, ...desired } = payload;
  return desired;
}
