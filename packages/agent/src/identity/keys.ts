import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, generateKeyPair, type KeyPair, readKeyFile, StemsError, writeFileAtomic, writeKeyFile } from '@stems/shared';

/** The node key file inside the state dir (mode 0600). */
export function nodeKeyPath(stateDir: string): string {
  return join(stateDir, 'node.key');
}

function joinTokenPath(stateDir: string): string {
  return join(stateDir, 'join-token');
}

/** Returns the node key, creating it when absent. An existing key is never replaced: it is the node's identity. */
export async function ensureNodeKey(stateDir: string): Promise<{ pair: KeyPair; created: boolean }> {
  const path = nodeKeyPath(stateDir);
  try {
    return { pair: await readKeyFile(path), created: false };
  } catch (err) {
    if (!(err instanceof StemsError) || errnoCode(err.cause) !== 'ENOENT') throw err;
  }
  const pair = generateKeyPair();
  await writeKeyFile(path, pair);
  return { pair, created: true };
}

/** Reads the node key; its absence means the node was never enrolled. */
export async function loadNodeKey(stateDir: string): Promise<KeyPair> {
  try {
    return await readKeyFile(nodeKeyPath(stateDir));
  } catch (err) {
    if (err instanceof StemsError && errnoCode(err.cause) === 'ENOENT') {
      throw new StemsError('STEMS_AGENT_NOT_ENROLLED', `No node key at ${nodeKeyPath(stateDir)}`, {
        hint: 'Run `stems-agent enroll` (or point --state / STEMS_AGENT_STATE at the right state dir).',
      });
    }
    throw err;
  }
}

/** A one-time join token kept (0600) until the hub welcomes the node. */
export async function saveJoinToken(stateDir: string, token: string): Promise<void> {
  await writeFileAtomic(joinTokenPath(stateDir), `${token.trim()}\n`, { mode: 0o600, mkdirs: true });
}

export async function readJoinToken(stateDir: string): Promise<string | undefined> {
  try {
    const token = (await readFile(joinTokenPath(stateDir), 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Once welcomed the token is spent; keeping it would only leak a secret. */
export async function clearJoinToken(stateDir: string): Promise<void> {
  await rm(joinTokenPath(stateDir), { force: true });
}
