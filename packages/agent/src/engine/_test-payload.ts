import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundlePayload, type Facts, Resource, sha256Hex } from '@stems/shared';
import pino from 'pino';

/** Test-only payload builder: the engine gets an already-verified payload, so nothing is signed. */
export interface PayloadBuilder {
  /** Adds a body to the files map and returns its reference. */
  body(text: string, options?: { render?: boolean; name?: string }): { sha256: string; render: boolean; name: string };
  payload(resources: Resource[], overrides?: Partial<BundlePayload>): BundlePayload;
}

export function payloadBuilder(): PayloadBuilder {
  const files: BundlePayload['files'] = {};
  return {
    body(text, options = {}) {
      const sha256 = sha256Hex(text);
      files[sha256] = { size: Buffer.byteLength(text), encoding: 'utf8', data: text };
      return { sha256, render: options.render ?? false, name: options.name ?? 'inline' };
    },
    payload(resources, overrides = {}) {
      return {
        format: 'stems.bundle/v1',
        cluster: 'colab',
        node: 'director',
        groups: ['all', 'compute'],
        serial: 1,
        issuedAt: '2026-01-01T00:00:00.000Z',
        expiresAt: '2036-01-01T00:00:00.000Z',
        revision: { commit: 'a'.repeat(40), subject: 'test', author: 'tester' },
        approval: { by: 'tester', at: '2026-01-01T00:00:00.000Z', note: '' },
        policy: { onFailure: 'rollback' },
        vars: { domain: 'colab.lan', swappiness: 10 },
        resources,
        files: { ...files },
        ...overrides,
      };
    },
  };
}

const common: { notify: string[]; drift: 'enforce' | 'report'; origin: string } = {
  notify: [],
  drift: 'enforce',
  origin: 'roles/test/role.yaml:1',
};

type FileExtra = Partial<Omit<Extract<Resource, { type: 'file' }>, 'type' | 'path' | 'body'>>;

export function fileResource(b: PayloadBuilder, path: string, text: string, extra: FileExtra & { render?: boolean } = {}): Resource {
  const { render, ...rest } = extra;
  return { type: 'file', id: `file:${path}`, path, body: b.body(text, { render: render ?? false }), sensitive: false, ...common, ...rest };
}

export function resource<T extends Resource['type']>(
  type: T,
  fields: Omit<Extract<Resource, { type: T }>, 'type' | 'notify' | 'drift' | 'origin'> & Partial<typeof common>,
): Resource {
  return Resource.parse({ type, ...common, ...fields });
}

export const TEST_FACTS: Facts = {
  hostname: 'director',
  fqdn: 'director.colab.lan',
  os: { distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
  cpu: { brand: 'Test CPU', cores: 8, physicalCores: 4 },
  memory: { totalBytes: 16 * 1024 ** 3 },
  disks: [],
  filesystems: [],
  network: [{ iface: 'eth0', ipv4: '192.168.254.30', mac: '00:00:00:00:00:30' }],
  primaryIp: '192.168.254.30',
  gpus: [],
  virtual: true,
  custom: {},
};

export const silentLog = pino({ level: 'silent' });

/** A fresh temp root, removed when the test ends. */
export async function tempRoot(onFinished: (fn: () => Promise<void>) => void): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'stems-engine-'));
  onFinished(() => rm(root, { recursive: true, force: true }));
  return root;
}

/**
 * Every entry under a root with its type, mode, owner and content hash (or
 * link text): equal snapshots mean the tree is exactly the same.
 */
export function treeSnapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = `${dir}/${name}`;
      const st = fs.lstatSync(full);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      const rel = full.slice(root.length);
      if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${meta}`;
        walk(full);
      } else out[rel] = `file ${meta} ${sha256Hex(fs.readFileSync(full))}`;
    }
  };
  walk(root);
  return out;
}
