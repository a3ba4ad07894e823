import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StemsError } from '@stems/shared';
import { hubPaths, splitListen } from '../config.js';
import type { HubApi } from '../hub-api.js';
import { type CommandInput, str } from './command.js';
import { httpApi } from './http-api.js';
import { readNodeIdentity } from './node-identity.js';

/** Default hub data dir on a real hub host. */
export const DEFAULT_DATA_DIR = '/var/lib/stems-hub';
/** File `hub serve` writes (0600) so admin commands on the hub host go through the running server. */
export const LOCAL_TOKEN_FILE = 'local-admin.token';

export function dataDirOf(input: CommandInput): string {
  return str(input.values, 'data') ?? input.env.STEMS_HUB_DATA ?? DEFAULT_DATA_DIR;
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch (err) {
    // Connection refused or timed out: the server is not running, so the caller uses the data dir.
    if (err instanceof Error) return false;
    throw err;
  }
}

/**
 * The API a client command talks to: the remote hub with a token when a URL
 * is given; on the hub host, the running server via its local admin token, or
 * the data dir directly when the server is not running.
 */
export async function connect(input: CommandInput): Promise<HubApi> {
  const url = str(input.values, 'hub') ?? input.env.STEMS_HUB_URL;
  const token = str(input.values, 'token') ?? input.env.STEMS_TOKEN;
  if (url && token) return httpApi(url, { token });
  const dataDir = dataDirOf(input);
  const paths = hubPaths(dataDir);
  if (url || !existsSync(paths.config)) {
    // No token: an enrolled node signs read-only requests with its own key.
    const identity = await readNodeIdentity(input.env);
    if (identity) return httpApi(url ?? identity.hubUrl, { node: identity.node, secretKey: identity.secretKey });
    if (url) {
      throw new StemsError('STEMS_AUTH_REQUIRED', `No token for ${url}`, {
        hint: 'Pass --token or set STEMS_TOKEN (create one on the hub with `hub token create --role viewer`).',
      });
    }
    throw new StemsError('STEMS_HUB_NOT_INITIALIZED', `No hub URL given, no hub data in ${dataDir} and no enrolled agent here`, {
      hint: 'Pass --hub URL --token T (or STEMS_HUB_URL / STEMS_TOKEN), or --data DIR on the hub host.',
    });
  }
  const { createLogger, diffRevision, localApi, localCore, openHubParts } = await import('./hub-host.js');
  const logger = createLogger({ level: 'warn', destination: process.stderr });
  const parts = await openHubParts(dataDir, logger);
  const tokenFile = join(dataDir, LOCAL_TOKEN_FILE);
  if (existsSync(tokenFile)) {
    const { host, port } = splitListen(parts.config.listen);
    const base = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
    if (await reachable(base)) {
      parts.store.close();
      return httpApi(base, { token: readFileSync(tokenFile, 'utf8').trim() });
    }
  }
  const core = localCore(parts);
  return localApi(core, (rev, node) => diffRevision(core, { rev, ...(node ? { node } : {}) }));
}

/** Runs fn with an API and always releases it. */
export async function withApi<T>(input: CommandInput, fn: (api: HubApi) => Promise<T>): Promise<T> {
  const api = await connect(input);
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}
