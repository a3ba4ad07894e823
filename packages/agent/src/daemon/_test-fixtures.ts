import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUNDLE_FORMAT,
  type BundlePayload,
  encodePublicKey,
  type Facts,
  generateKeyPair,
  type KeyPair,
  sha256Hex,
  signPayload,
} from '@stems/shared';
import pino from 'pino';
import { parseAgentConfig } from '../config/load.js';
import type { AgentConfig } from '../config/schema.js';

export const silent = pino({ level: 'silent' });

/** Inside the test bundle's validity window (2026-01-01 … 2026-01-02). */
export const NOW = new Date('2026-01-01T12:00:00.000Z');

export const FACTS: Facts = {
  hostname: 'projector',
  fqdn: 'projector.colab.lan',
  os: { distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
  cpu: { brand: 'Test CPU', cores: 2, physicalCores: 2 },
  memory: { totalBytes: 2 ** 33 },
  disks: [],
  filesystems: [],
  network: [],
  primaryIp: '',
  gpus: [],
  virtual: true,
  custom: {},
};

export const MOTD_TEMPLATE = 'Welcome to {{node.name}} ({{cluster}}), swappiness {{vars.swappiness}}\n';
export const MOTD_RENDERED = 'Welcome to projector (colab), swappiness 10\n';

/**
 * A valid payload for node projector of cluster colab, serial 5, valid for a
 * day from 2026-01-01: a directory and a templated file. No exec or unit, so
 * applying it under a temp root touches nothing else on this machine.
 */
export function filesOnlyPayload(overrides: Partial<BundlePayload> = {}): BundlePayload {
  const sha = sha256Hex(MOTD_TEMPLATE);
  return {
    format: BUNDLE_FORMAT,
    cluster: 'colab',
    node: 'projector',
    groups: ['compute'],
    serial: 5,
    issuedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
    revision: { commit: 'a'.repeat(40), subject: 'Tune swappiness', author: 'Ada <ada@example.com>' },
    approval: { by: 'ada', at: '2026-01-01T00:00:00.000Z', note: '' },
    policy: { onFailure: 'rollback' },
    vars: { swappiness: 10 },
    resources: [
      {
        type: 'directory',
        path: '/etc/app',
        mode: '0755',
        id: 'directory:/etc/app',
        notify: [],
        drift: 'enforce',
        origin: 'role.yaml:1:1',
      },
      {
        type: 'file',
        path: '/etc/motd',
        body: { sha256: sha, render: true, name: 'roles/base/files/motd.hbs' },
        sensitive: false,
        mode: '0644',
        id: 'file:/etc/motd',
        notify: [],
        drift: 'enforce',
        origin: 'role.yaml:2:1',
      },
    ],
    files: { [sha]: { size: Buffer.byteLength(MOTD_TEMPLATE), encoding: 'utf8', data: MOTD_TEMPLATE } },
    ...overrides,
  };
}

export function signed(payload: BundlePayload, key: KeyPair): string {
  return JSON.stringify(signPayload(JSON.stringify(payload), key));
}

export interface AgentFixture {
  dir: string;
  root: string;
  stateDir: string;
  hub: KeyPair;
  config: AgentConfig;
  cleanup(): Promise<void>;
}

/** A temp dir with a root prefix, a state dir and an agent config for node projector of cluster colab. */
export async function agentFixture(
  opts: { hubUrl?: string; hub?: KeyPair; intervals?: Partial<AgentConfig['intervals']> } = {},
): Promise<AgentFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'stems-agent-'));
  const root = join(dir, 'root');
  const stateDir = join(dir, 'state');
  await mkdir(root);
  const hub = opts.hub ?? generateKeyPair();
  const intervals = Object.entries(opts.intervals ?? {})
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('');
  const text = [
    `hub:\n  url: ${opts.hubUrl ?? 'http://127.0.0.1:1'}\n  key: "${encodePublicKey(hub.publicKey)}"\n`,
    'node: projector\ncluster: colab\n',
    `paths:\n  state: ${stateDir}\n  root: ${root}\n  factsDir: ${join(dir, 'facts.d')}\n`,
    intervals ? `intervals:\n${intervals}` : '',
  ].join('');
  const { config, errors } = parseAgentConfig(text, join(dir, 'agent.yaml'));
  if (!config) throw new Error(errors.map((e) => e.message).join('\n'));
  return { dir, root, stateDir, hub, config, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
