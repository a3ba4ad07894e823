import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Facts } from '@stems/shared';
import { makeGitRepo } from '../../../../test/helpers/git-http.js';
import { type CommitInfo, openRepoSource } from '../git/repo-source.js';

/** Facts as an agent would report them, for preview renders in tests. */
export function factsFor(hostname: string, overrides: Partial<Facts> = {}): Facts {
  return {
    hostname,
    fqdn: `${hostname}.colab.lan`,
    os: { distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
    cpu: { brand: 'Test CPU', cores: 4, physicalCores: 2 },
    memory: { totalBytes: 8 * 1024 ** 3 },
    disks: [],
    filesystems: [],
    network: [{ iface: 'eth0', ipv4: '192.168.254.10', mac: '00:00:00:00:00:01' }],
    primaryIp: '192.168.254.10',
    gpus: [],
    virtual: true,
    custom: {},
    ...overrides,
  };
}

/** The example cluster: three nodes, group and node overrides, every resource type. */
export const EXAMPLE: Record<string, string | Uint8Array> = {
  'cluster.yaml': `apiVersion: stems/v1
cluster: colab
vars:
  domain: colab.lan
  level: cluster
nodes:
  cooperator: { groups: [gateway], vars: { ip: 192.168.254.10 } }
  projector:
    groups: [compute, gpu]
    vars: { ip: 192.168.254.20, level: node }
  director:
    groups: [compute]
    vars: { ip: 192.168.254.30 }
    policy: { drift: report, onFailure: stop }
groups:
  all: { roles: [base], vars: { level: all } }
  gateway: { vars: { level: gateway } }
  compute: { roles: [docker], vars: { docker_data: /srv/docker, level: compute } }
  gpu: { roles: [gpu], vars: { level: gpu } }
policy:
  drift: enforce
`,
  'roles/base/role.yaml': `vars: { swappiness: 10, level: role, motd_extra: none }
resources:
  - file: /etc/motd
    template: motd.hbs
    mode: "0644"
  - file: /etc/sysctl.d/90-stems.conf
    content: "vm.swappiness = {{vars.swappiness}}\\n"
    notify: [sysctl-reload]
  - directory: /etc/app
    mode: "0755"
  - symlink: /etc/app/current
    target: /etc/app/v1
  - absent: /etc/old.conf
  - file: /etc/app/logo.bin
    source: logo.bin
  - exec: [sysctl, --system]
    id: sysctl-reload
    refreshonly: true
    timeout: 30s
  - exec: [touch, /var/tmp/stamp]
    creates: /var/tmp/stamp
  - package: htop
    policy: { drift: report }
`,
  'roles/base/files/motd.hbs': `Welcome to {{node.name}}.{{vars.domain}} ({{cluster}})
level={{vars.level}}
host={{facts.hostname}} cores={{facts.cpu.cores}}
`,
  'roles/base/files/logo.bin': Uint8Array.from([0, 0xff, 0xfe, 1]),
  'roles/docker/role.yaml': `vars: { docker_data: /var/lib/docker }
resources:
  - file: /etc/docker/daemon.json
    template: daemon.json.hbs
    sensitive: true
  - unit: docker.service
    enabled: true
    state: started
`,
  'roles/docker/files/daemon.json.hbs': '{ "data-root": "{{vars.docker_data}}" }\n',
  'roles/gpu/role.yaml': `when: facts.gpus
resources:
  - unit: gpu-exporter.service
    template: gpu-exporter.service.hbs
    when: (eq facts.os.arch "x64")
  - package: nvidia-smi
`,
  'roles/gpu/files/gpu-exporter.service.hbs': '[Service]\nExecStart=/usr/bin/gpu-exporter --ip {{vars.ip}}\n',
};

export const ALL_FACTS: ReadonlyMap<string, Facts> = new Map([
  ['cooperator', factsFor('cooperator')],
  ['projector', factsFor('projector', { gpus: [{ vendor: 'NVIDIA', model: 'RTX', vramMiB: 8192 }] })],
  ['director', factsFor('director')],
]);

/**
 * Commits `files` to a fresh git repo and returns a reader over that commit's
 * tree, as the hub reads it, plus the commit info.
 */
export async function committed(files: Record<string, string | Uint8Array>, onCleanup: (fn: () => Promise<void>) => void) {
  const repo = await makeGitRepo(files);
  onCleanup(repo.cleanup);
  const cache = await mkdtemp(join(tmpdir(), 'stems-cc-'));
  onCleanup(() => rm(cache, { recursive: true, force: true }));
  const source = openRepoSource({ url: repo.dir, branch: 'main', cacheDir: cache });
  const commit = (await source.fetch()) as CommitInfo;
  return { reader: source.reader(commit.commit), commit, dir: repo.dir };
}
