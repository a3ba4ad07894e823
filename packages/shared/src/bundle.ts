import { z } from 'zod';
import { ClusterName, GroupName, NodeName } from './cluster.js';
import { OnFailurePolicy, Vars } from './fields.js';
import { Resource, Sha256Hex } from './resources.js';

export const BUNDLE_FORMAT = 'stems.bundle/v1';
/** Bundles larger than this are refused before parsing. @default 8 MiB */
export const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

export const Commit = z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-hex git commit id');
const IsoTime = z.iso.datetime({ offset: true });

export const BundleFile = z.strictObject({
  size: z.number().int().nonnegative(),
  encoding: z.enum(['utf8', 'base64']),
  data: z.string(),
});
export type BundleFile = z.infer<typeof BundleFile>;

/** The signed payload. Its exact JSON text is what the hub signs. */
export const BundlePayload = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  cluster: ClusterName,
  node: NodeName,
  groups: z.array(GroupName),
  serial: z.number().int().positive(),
  issuedAt: IsoTime,
  expiresAt: IsoTime,
  revision: z.strictObject({ commit: Commit, subject: z.string(), author: z.string() }),
  approval: z.strictObject({ by: z.string(), at: IsoTime, note: z.string() }),
  policy: z.strictObject({ onFailure: OnFailurePolicy }),
  vars: Vars,
  resources: z.array(Resource),
  files: z.record(Sha256Hex, BundleFile),
});
export type BundlePayload = z.infer<typeof BundlePayload>;

export const KeyId = z.string().regex(/^[0-9a-f]{16}$/, 'a 16-hex key id');
export const Signature = z.strictObject({ keyId: KeyId, sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 ed25519 signature') });

/** What travels and is stored: the payload text plus detached signatures. */
export const BundleEnvelope = z.strictObject({
  payload: z.string().min(2).max(MAX_BUNDLE_BYTES),
  signatures: z.array(Signature).min(1).max(8),
});
export type BundleEnvelope = z.infer<typeof BundleEnvelope>;
