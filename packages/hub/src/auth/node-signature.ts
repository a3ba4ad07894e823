import { signBytes, verifyBytes } from '@stems/shared';

/** Headers of a request signed with a node key (read-only, viewer rights). */
export const NODE_HEADER = 'x-stems-node';
export const DATE_HEADER = 'x-stems-date';
export const SIGNATURE_HEADER = 'x-stems-signature';

/** Allowed clock difference between the node and the hub. @default 5 minutes */
export const MAX_SKEW_MS = 5 * 60 * 1000;

/** The bytes a node signs: method, path with query, and the date, one per line. */
export function requestSigningText(method: string, path: string, date: string): string {
  return `stems-request-v1\n${method.toUpperCase()}\n${path}\n${date}`;
}

/** Headers for a node-signed request (used by clients on a node). */
export function signRequest(opts: {
  method: string;
  path: string;
  node: string;
  secretKey: Uint8Array;
  now?: Date;
}): Record<string, string> {
  const date = (opts.now ?? new Date()).toISOString();
  const sig = signBytes(Buffer.from(requestSigningText(opts.method, opts.path, date)), opts.secretKey);
  return { [NODE_HEADER]: opts.node, [DATE_HEADER]: date, [SIGNATURE_HEADER]: sig };
}

/** Checks a node signature and its date window; the caller looks up the node's accepted key. */
export function verifyRequestSignature(opts: {
  method: string;
  path: string;
  date: string;
  signature: string;
  publicKey: Uint8Array;
  now: Date;
}): boolean {
  const at = Date.parse(opts.date);
  if (Number.isNaN(at) || Math.abs(opts.now.getTime() - at) > MAX_SKEW_MS) return false;
  return verifyBytes(Buffer.from(requestSigningText(opts.method, opts.path, opts.date)), opts.signature, opts.publicKey);
}
