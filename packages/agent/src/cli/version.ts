import { readFileSync } from 'node:fs';

/** The package version; src/cli and dist/cli both sit two levels below the package root. */
export function agentVersion(): string {
  const version: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
  return typeof version === 'string' ? version : '0.0.0';
}
