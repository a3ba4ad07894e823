import { BUNDLE_FORMAT, type BundleFile, type BundlePayload } from './bundle.js';
import { sha256Hex } from './canonical.js';
import type { Body } from './resources.js';

/** A bundle file entry for utf8 text, keyed by its sha256. */
export function textFile(text: string): [sha256: string, file: BundleFile] {
  return [sha256Hex(text), { size: Buffer.byteLength(text), encoding: 'utf8', data: text }];
}

export const MOTD_TEMPLATE = 'Welcome to {{node.name}} ({{cluster}}), swappiness {{vars.swappiness}}\n';
export const SYSCTL_TEXT = 'vm.swappiness = 10\n';

/**
 * A valid BundlePayload for node "projector" of cluster "colab", serial 5,
 * valid for a day from 2026-01-01: a templated file, a static file, a
 * directory and a refresh-only exec. `overrides` replace top-level fields.
 */
export function makeBundlePayload(overrides: Partial<BundlePayload> = {}): BundlePayload {
  const [motdSha, motd] = textFile(MOTD_TEMPLATE);
  const [sysctlSha, sysctl] = textFile(SYSCTL_TEXT);
  const motdBody: Body = { sha256: motdSha, render: true, name: 'roles/base/files/motd.hbs' };
  const sysctlBody: Body = { sha256: sysctlSha, render: false, name: 'roles/base/role.yaml#resources[1]' };
  return {
    format: BUNDLE_FORMAT,
    cluster: 'colab',
    node: 'projector',
    groups: ['compute', 'gpu'],
    serial: 5,
    issuedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
    revision: { commit: 'a'.repeat(40), subject: 'Tune swappiness', author: 'Ada <ada@example.com>' },
    approval: { by: 'ada', at: '2026-01-01T00:00:00.000Z', note: '' },
    policy: { onFailure: 'rollback' },
    vars: { swappiness: 10, domain: 'colab.lan' },
    resources: [
      {
        type: 'directory',
        path: '/etc/app',
        mode: '0755',
        id: 'directory:/etc/app',
        notify: [],
        drift: 'enforce',
        origin: 'roles/base/role.yaml:3:5',
      },
      {
        type: 'file',
        path: '/etc/motd',
        body: motdBody,
        sensitive: false,
        mode: '0644',
        id: 'file:/etc/motd',
        notify: [],
        drift: 'enforce',
        origin: 'roles/base/role.yaml:5:5',
      },
      {
        type: 'file',
        path: '/etc/sysctl.d/90-stems.conf',
        body: sysctlBody,
        sensitive: false,
        id: 'file:/etc/sysctl.d/90-stems.conf',
        notify: ['sysctl-reload'],
        drift: 'enforce',
        origin: 'roles/base/role.yaml:8:5',
      },
      {
        type: 'exec',
        argv: ['sysctl', '--system'],
        timeoutMs: 30_000,
        refreshonly: true,
        id: 'sysctl-reload',
        notify: [],
        drift: 'enforce',
        origin: 'roles/base/role.yaml:11:5',
      },
    ],
    files: { [motdSha]: motd, [sysctlSha]: sysctl },
    ...overrides,
  };
}
