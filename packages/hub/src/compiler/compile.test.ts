import { BundlePayload, DEFAULT_EXEC_TIMEOUT_MS, formatProblem, sha256Hex } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { openRepoSource } from '../git/repo-source.js';
import { ALL_FACTS, committed, EXAMPLE } from './_test-fixtures.js';
import { compileRevision, type NodeDesired } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const onCleanup = (fn: () => Promise<void>) => cleanups.push(fn);

async function compile(files: Record<string, string | Uint8Array>, facts: ReadonlyMap<string, never> | typeof ALL_FACTS = ALL_FACTS) {
  const { reader, commit } = await committed(files, onCleanup);
  return compileRevision(reader, commit, facts);
}

function byId(desired: NodeDesired | undefined) {
  return new Map((desired?.resources ?? []).map((r) => [r.id, r]));
}

describe('compileRevision on the example cluster', () => {
  it('compiles every node with roles in order, vars precedence, policies, ids, files and when', async () => {
    const rev = await compile(EXAMPLE);
    expect(rev.problems).toEqual([]);
    expect(rev.state).toBe('valid');
    expect(rev.cluster).toBe('colab');
    expect([...rev.nodes.keys()].sort()).toEqual(['cooperator', 'director', 'projector']);
    expect(rev.waitingForFacts.size).toBe(0);

    const projector = rev.nodes.get('projector');
    expect(projector?.groups).toEqual(['compute', 'gpu']);
    expect(projector?.revision).toEqual({ commit: rev.commit.commit, subject: 'initial', author: 'Stems Test <test@stems.invalid>' });
    // role defaults < cluster < groups (all, compute, gpu) < node
    expect(projector?.vars).toEqual({
      swappiness: 10,
      motd_extra: 'none',
      docker_data: '/srv/docker',
      domain: 'colab.lan',
      level: 'node',
      ip: '192.168.254.20',
    });
    expect(rev.nodes.get('cooperator')?.vars.level).toBe('gateway');
    expect(rev.nodes.get('director')?.vars.level).toBe('compute');
    expect(rev.nodes.get('cooperator')?.vars.docker_data).toBeUndefined();

    expect(projector?.resources.map((r) => r.id)).toEqual([
      'file:/etc/motd',
      'file:/etc/sysctl.d/90-stems.conf',
      'directory:/etc/app',
      'symlink:/etc/app/current',
      'absent:/etc/old.conf',
      'file:/etc/app/logo.bin',
      'sysctl-reload',
      'exec:touch_/var/tmp/stamp',
      'package:htop',
      'file:/etc/docker/daemon.json',
      'unit:docker.service',
      'unit:gpu-exporter.service',
      'package:nvidia-smi',
    ]);

    const res = byId(projector);
    expect(res.get('file:/etc/motd')).toMatchObject({ mode: '0644', drift: 'enforce', origin: 'roles/base/role.yaml:3:5', notify: [] });
    expect(res.get('package:htop')).toMatchObject({ drift: 'report', state: 'present', origin: 'roles/base/role.yaml:22:5' });
    expect(res.get('sysctl-reload')).toMatchObject({ type: 'exec', argv: ['sysctl', '--system'], timeoutMs: 30_000, refreshonly: true });
    expect(res.get('exec:touch_/var/tmp/stamp')).toMatchObject({
      timeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
      refreshonly: false,
      creates: '/var/tmp/stamp',
    });
    expect(res.get('unit:gpu-exporter.service')?.when).toBe('(and facts.gpus (eq facts.os.arch "x64"))');
    expect(res.get('package:nvidia-smi')?.when).toBe('facts.gpus');
    expect(res.get('unit:docker.service')).toMatchObject({ enabled: true, state: 'started' });
    expect(res.get('unit:docker.service')).not.toHaveProperty('body');
    expect(res.get('file:/etc/docker/daemon.json')).toMatchObject({ sensitive: true });

    // bodies are content-addressed; templates render on the node, static files do not
    const motd = res.get('file:/etc/motd');
    const motdSha = sha256Hex(EXAMPLE['roles/base/files/motd.hbs'] as string);
    expect(motd?.type === 'file' && motd.body).toEqual({ sha256: motdSha, render: true, name: 'roles/base/files/motd.hbs' });
    expect(projector?.files[motdSha]).toEqual({
      size: Buffer.byteLength(EXAMPLE['roles/base/files/motd.hbs'] as string),
      encoding: 'utf8',
      data: EXAMPLE['roles/base/files/motd.hbs'],
    });
    const logo = res.get('file:/etc/app/logo.bin');
    const logoSha = sha256Hex(EXAMPLE['roles/base/files/logo.bin'] as Uint8Array);
    expect(logo?.type === 'file' && logo.body).toEqual({ sha256: logoSha, render: false, name: 'roles/base/files/logo.bin' });
    expect(projector?.files[logoSha]).toEqual({ size: 4, encoding: 'base64', data: 'AP/+AQ==' });
    const sysctl = res.get('file:/etc/sysctl.d/90-stems.conf');
    expect(sysctl?.type === 'file' && sysctl.body).toMatchObject({ render: true, name: 'roles/base/role.yaml#resources[1].content' });
    expect(sysctl?.notify).toEqual(['sysctl-reload']);

    // a node only carries the files its own resources use
    const cooperator = rev.nodes.get('cooperator');
    expect(Object.keys(cooperator?.files ?? {})).toHaveLength(3);
    expect(cooperator?.resources.some((r) => r.id === 'unit:gpu-exporter.service')).toBe(false);

    // node policy beats the cluster's; a resource's own policy beats the node's
    expect(cooperator?.policy).toEqual({ onFailure: 'rollback' });
    const director = rev.nodes.get('director');
    expect(director?.policy).toEqual({ onFailure: 'stop' });
    expect(new Set(director?.resources.map((r) => r.drift))).toEqual(new Set(['report']));
    expect(byId(cooperator).get('file:/etc/motd')?.drift).toBe('enforce');
  });

  it('yields payloads that pass the bundle schema once approval fields are added', async () => {
    const rev = await compile(EXAMPLE);
    for (const desired of rev.nodes.values()) {
      const payload = {
        format: 'stems.bundle/v1',
        serial: 1,
        issuedAt: '2026-01-01T00:00:00.000Z',
        expiresAt: '2026-02-01T00:00:00.000Z',
        approval: { by: 'ops', at: '2026-01-01T00:00:00.000Z', note: '' },
        ...desired,
      };
      const parsed = BundlePayload.safeParse(payload);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });
});

describe('drift policy precedence', () => {
  it('most specific wins: resource > node > group > cluster', async () => {
    const rev = await compile(
      {
        'cluster.yaml': `apiVersion: stems/v1
cluster: colab
nodes:
  plain: {}
  inlab: { groups: [lab] }
  pinned: { groups: [lab], policy: { drift: enforce } }
groups:
  all: { roles: [base] }
  lab: { policy: { drift: report } }
policy:
  drift: enforce
`,
        'roles/base/role.yaml': `resources:
  - file: /etc/plain
    content: "a"
  - file: /etc/always-enforced
    content: "b"
    policy: { drift: enforce }
  - file: /etc/always-reported
    content: "c"
    policy: { drift: report }
`,
      },
      new Map(),
    );
    expect(rev.problems).toEqual([]);
    const drift = (node: string) => Object.fromEntries((rev.nodes.get(node)?.resources ?? []).map((r) => [r.id, r.drift]));
    // cluster: enforce
    expect(drift('plain')).toEqual({
      'file:/etc/plain': 'enforce',
      'file:/etc/always-enforced': 'enforce',
      'file:/etc/always-reported': 'report',
    });
    // the group's report beats the cluster; a resource's enforce beats the group
    expect(drift('inlab')).toEqual({
      'file:/etc/plain': 'report',
      'file:/etc/always-enforced': 'enforce',
      'file:/etc/always-reported': 'report',
    });
    // the node's enforce beats its group's report; a resource's report beats the node
    expect(drift('pinned')).toEqual({
      'file:/etc/plain': 'enforce',
      'file:/etc/always-enforced': 'enforce',
      'file:/etc/always-reported': 'report',
    });
  });
});

describe('compileRevision waiting for facts', () => {
  it('lists fact-dependent resources of a node with no facts and still renders the rest', async () => {
    const facts = new Map([
      ['cooperator', ALL_FACTS.get('cooperator') ?? null],
      ['projector', null],
    ]);
    const rev = await compile(EXAMPLE, facts as never);
    expect(rev.problems).toEqual([]);
    expect(rev.state).toBe('valid');
    expect(rev.waitingForFacts.get('projector')).toEqual(['file:/etc/motd', 'unit:gpu-exporter.service', 'package:nvidia-smi']);
    expect(rev.waitingForFacts.get('director')).toEqual(['file:/etc/motd']);
    expect(rev.waitingForFacts.has('cooperator')).toBe(false);
  });

  it('still fails a template without facts that misses a variable', async () => {
    const rev = await compile({ ...EXAMPLE, 'roles/docker/files/daemon.json.hbs': '{\n  "x": "{{vars.nope}}"\n}\n' }, new Map());
    expect(rev.state).toBe('invalid');
    expect(rev.problems.map(formatProblem)).toEqual([
      'roles/docker/files/daemon.json.hbs:2:11: nodes projector, director: "nope" is not defined',
    ]);
  });
});

describe('compileRevision on a commit the hub cannot read', () => {
  it('throws STEMS_REVISION_NOT_FOUND instead of judging the revision', async () => {
    const { commit, dir } = await committed(EXAMPLE, onCleanup);
    const other = openRepoSource({ url: dir, branch: 'main', cacheDir: `${dir}/unused` });
    const missing = { ...commit, commit: 'f'.repeat(40) };
    await expect(compileRevision(other.reader(missing.commit), missing, ALL_FACTS)).rejects.toMatchObject({
      code: 'STEMS_REVISION_NOT_FOUND',
    });
  });
});

describe('compileRevision with resource vars', () => {
  it('renders a resource with its own vars over the node vars, and keeps them in the bundle', async () => {
    const docker =
      'resources:\n  - file: /etc/x.conf\n    content: "{{vars.only_here}} {{vars.domain}}\\n"\n    vars: { only_here: yes-here, domain: override }\n';
    const rev = await compile({ ...EXAMPLE, 'roles/docker/role.yaml': docker });
    expect(rev.problems).toEqual([]);
    expect(byId(rev.nodes.get('director')).get('file:/etc/x.conf')).toMatchObject({ vars: { only_here: 'yes-here', domain: 'override' } });
  });
});
