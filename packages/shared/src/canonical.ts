import crypto from 'node:crypto';

/**
 * JSON with object keys sorted at every level: equal data gives equal bytes,
 * which is what hashing (facts hash, diffs) needs. Signing never uses this on
 * a received object: it signs and verifies the exact payload text.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      // defineProperty, not `out[key] =`: an own "__proto__" key (JSON.parse makes
      // them) would otherwise set the prototype and vanish from the output
      Object.defineProperty(out, key, {
        value: sortKeys((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/**
 * crypto.hash (Node >= 20.12) hashes in one call; a Hash object per digest
 * costs about three times as much for small inputs, which a no-op apply of
 * 1000 files pays once per file. Node 20.0-20.11 lack it.
 */
const oneShotHash: typeof crypto.hash | undefined = crypto.hash;

/** sha256 of `data` (a string is hashed as UTF-8), lower-case hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}
