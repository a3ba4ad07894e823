import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePublicKey, generateKeyPair, readKeyFile } from '@stems/shared';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../config/load.js';
import { defaultNodeName, enroll } from './enroll.js';
import { readJoinToken } from './keys.js';

const log = pino({ level: 'silent' });
const HUB_KEY = encodePublicKey(generateKeyPair().publicKey);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-agent-enroll-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = () => ({
  hubUrl: 'http://127.0.0.1:7400',
  hubKey: HUB_KEY,
  configPath: join(dir, 'etc', 'agent.yaml'),
  stateDir: join(dir, 'state'),
  connect: false,
  agentVersion: '0.0.0-test',
  log,
});

describe('enroll', () => {
  it('offline: writes a 0600 node key and a config pinning the hub key', async () => {
    const result = await enroll({ ...base(), name: 'director' });
    expect(result).toMatchObject({ node: 'director', keyCreated: true, hub: { status: 'skipped' } });
    expect(result.next).toContain('hub nodes accept director');
    expect((await stat(result.keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(result.configPath)).mode & 0o777).toBe(0o600);
    const key = await readKeyFile(result.keyPath);
    expect(encodePublicKey(key.publicKey)).toBe(result.publicKey);
    const { config } = await loadAgentConfig(result.configPath);
    expect(config).toMatchObject({ hubKey: HUB_KEY, node: 'director', wsUrl: 'ws://127.0.0.1:7400/api/v1/agent' });
    expect(config.paths.state).toBe(join(dir, 'state'));
  });

  it('keeps an existing node key when enrolling again', async () => {
    const first = await enroll({ ...base(), name: 'director' });
    const again = await enroll({ ...base(), name: 'director' });
    expect(again.keyCreated).toBe(false);
    expect(again.publicKey).toBe(first.publicKey);
  });

  it('stores the join token (0600) and says it will accept the node', async () => {
    const result = await enroll({ ...base(), name: 'n1', joinToken: 'jt_secret' });
    expect(await readJoinToken(join(dir, 'state'))).toBe('jt_secret');
    expect((await stat(join(dir, 'state', 'join-token'))).mode & 0o777).toBe(0o600);
    expect(result.next).toMatch(/join token/);
    expect(await readFile(result.configPath, 'utf8')).not.toContain('jt_secret');
  });

  it('defaults the name to the short host name', async () => {
    const expected = defaultNodeName();
    if (expected === undefined) return; // this host's name is not a valid node name; covered by the next test
    expect(expected).toBe(hostname().split('.')[0]?.toLowerCase());
    expect((await enroll(base())).node).toBe(expected);
  });

  it('refuses a bad name, URL or key before writing anything', async () => {
    await expect(enroll({ ...base(), name: 'Bad_Name' })).rejects.toMatchObject({ code: 'STEMS_CLI_USAGE' });
    await expect(enroll({ ...base(), name: 'ok', hubUrl: 'ftp://x' })).rejects.toMatchObject({ code: 'STEMS_AGENT_CONFIG' });
    await expect(enroll({ ...base(), name: 'ok', hubKey: 'ed25519:short' })).rejects.toMatchObject({ code: 'STEMS_KEY_INVALID' });
    await expect(stat(join(dir, 'etc', 'agent.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an unreachable hub is not an error: the node is enrolled offline', async () => {
    // port 1 on loopback refuses at once; nothing leaves the machine
    const result = await enroll({ ...base(), name: 'n2', hubUrl: 'http://127.0.0.1:1', connect: true, connectTimeoutMs: 2000 });
    expect(result.hub.status).toBe('unreachable');
    expect(result.next).toContain('hub nodes accept n2');
  });
});
