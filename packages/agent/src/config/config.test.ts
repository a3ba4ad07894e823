import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePublicKey, generateKeyPair, isStemsError } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hubWsUrl, loadAgentConfig, parseAgentConfig, writeAgentConfig } from './load.js';
import { AGENT_DEFAULTS } from './schema.js';

const KEY = encodePublicKey(generateKeyPair().publicKey);
const valid = (extra = '') => `hub:\n  url: http://hub.lan:7400/\n  key: "${KEY}"\nnode: projector\n${extra}`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-agent-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hubWsUrl', () => {
  it('derives ws(s)://host/api/v1/agent from the http(s) base', () => {
    expect(hubWsUrl('http://hub:7400')).toBe('ws://hub:7400/api/v1/agent');
    expect(hubWsUrl('https://hub.example.com/stems/')).toBe('wss://hub.example.com/stems/api/v1/agent');
  });
  it('refuses other schemes with STEMS_AGENT_CONFIG', () => {
    expect(() => hubWsUrl('ftp://hub')).toThrow(expect.objectContaining({ code: 'STEMS_AGENT_CONFIG' }));
    expect(() => hubWsUrl('not a url')).toThrow(expect.objectContaining({ code: 'STEMS_AGENT_CONFIG' }));
  });
});

describe('parseAgentConfig', () => {
  it('normalizes, applies defaults and freezes', () => {
    const { config, errors } = parseAgentConfig(valid('intervals:\n  pollMs: 1000\n'), '/etc/stems/agent.yaml');
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      hubUrl: 'http://hub.lan:7400',
      wsUrl: 'ws://hub.lan:7400/api/v1/agent',
      hubKey: KEY,
      node: 'projector',
      cluster: undefined,
      paths: AGENT_DEFAULTS.paths,
    });
    expect(config?.intervals.pollMs).toBe(1000);
    expect(config?.intervals.healthMs).toBe(15_000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config?.paths)).toBe(true);
  });

  it('defaults: full drift re-check every 5 min, health every 15 s (issue 5)', () => {
    const { config, errors } = parseAgentConfig(valid(), 'agent.yaml');
    expect(errors).toEqual([]);
    // Literal numbers on purpose: a changed default must fail here, not follow AGENT_DEFAULTS silently.
    expect(config?.intervals.driftMs).toBe(300_000);
    expect(config?.intervals.healthMs).toBe(15_000);
  });

  it('lets overrides (flags/env) beat the file', () => {
    const { config } = parseAgentConfig(valid('paths:\n  state: /srv/state\n  root: /srv/root\n'), 'a.yaml', { stateDir: '/x/state' });
    expect(config?.paths).toEqual({ state: '/x/state', root: '/srv/root', factsDir: '/etc/stems/facts.d' });
  });

  it('reports schema errors with file:line:col and the key path', () => {
    const { config, errors } = parseAgentConfig(valid('intervals:\n  pollMs: -5\n  bogus: 1\n'), 'agent.yaml');
    expect(config).toBeUndefined();
    const messages = errors.map((e) => e.message).join('\n');
    expect(messages).toMatch(/agent\.yaml:6:\d+: intervals\.pollMs/);
    expect(messages).toMatch(/bogus/);
  });

  it('reports YAML syntax errors and bad keys', () => {
    expect(parseAgentConfig('hub: [\n', 'agent.yaml').errors[0]?.message).toMatch(/^agent\.yaml:\d+:\d+: /);
    const bad = parseAgentConfig(valid().replace(KEY, 'ed25519:nope'), 'agent.yaml');
    expect(bad.errors[0]?.message).toMatch(/hub\.key/);
    const node = parseAgentConfig(valid().replace('projector', 'Not_A_Name'), 'agent.yaml');
    expect(node.errors[0]?.message).toMatch(/node/);
  });

  it('refuses backoffMinMs above backoffMaxMs', () => {
    const { errors } = parseAgentConfig(valid('intervals:\n  backoffMinMs: 5000\n  backoffMaxMs: 10\n'), 'agent.yaml');
    expect(errors[0]?.message).toMatch(/backoffMinMs/);
  });
});

describe('loadAgentConfig / writeAgentConfig', () => {
  it('a missing file means not enrolled', async () => {
    await expect(loadAgentConfig(join(dir, 'none.yaml'))).rejects.toMatchObject({ code: 'STEMS_AGENT_NOT_ENROLLED' });
  });

  it('an invalid file fails with STEMS_AGENT_CONFIG and a hint', async () => {
    const path = join(dir, 'agent.yaml');
    await writeFile(path, 'node: 12\n');
    const err = await loadAgentConfig(path).catch((e: unknown) => e);
    expect(isStemsError(err, 'STEMS_AGENT_CONFIG')).toBe(true);
    expect(isStemsError(err) && err.hint).toMatch(/enroll/);
  });

  it('writes a 0600 file that loads back to the same config', async () => {
    const path = join(dir, 'etc', 'agent.yaml');
    const written = await writeAgentConfig(path, { hub: { url: 'https://hub:7400', key: KEY }, node: 'director', cluster: 'colab' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const { config } = await loadAgentConfig(path);
    expect(config).toEqual({ ...written, configPath: path });
    expect(await readFile(path, 'utf8')).toContain(`key: "${KEY}"`);
  });
});
