import { createHash } from 'node:crypto';

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

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
