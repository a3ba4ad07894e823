import { readFileSync } from 'node:fs';

/**
 * The hub package's version; src/cli and dist/cli both sit two levels below the
 * package root. The node client bundle (scripts/bundle.ts) bakes it in instead.
 */
export function hubVersion(): string {
  const version: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
  return typeof version === 'string' ? version : '0.0.0';
}
