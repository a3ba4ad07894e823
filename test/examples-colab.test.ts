import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Facts, type Resource, renderBody, resourceApplies } from '@stems/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factsFor } from '../packages/hub/src/compiler/_test-fixtures.js';
import { type CompiledRevision, compileRevision, type NodeDesired } from '../packages/hub/src/compiler/index.js';
import { type CommitInfo, openRepoSource } from '../packages/hub/src/git/repo-source.js';
import { commitFiles, type GitRepo, makeGitRepo } from './helpers/git-http.js';

// examples/colab as shipped: committed unchanged to a real git repo with the
// git CLI, read by the hub's repo source and compiled by the hub's compiler,
// then every resource that applies on a node rendered exactly as its agent
// renders it (shared renderBody / resourceApplies) with that node's facts.

const EXAMPLE_DIR = fileURLToPath(new URL('../examples/colab/', import.meta.url));
const NAMES = ['cooperator', 'director', 'projector'];
const GiB = 1024 ** 3;

/** projector: 8 cores, 32 GiB, one GPU. director: 1 core, 512 MiB (below both floors). cooperator: no GPU. */
const FACTS = new Map<string, Facts>([
  ['cooperator', factsFor('cooperator', { cpu: { brand: 'Test CPU', cores: 4, physicalCores: 2 }, memory: { totalBytes: 4 * GiB } })],
  [
    'projector',
    factsFor('projector', {
      cpu: { brand: 'Test CPU', cores: 8, physicalCores: 4 },
      memory: { totalBytes: 32 * GiB },
      gpus: [{ vendor: 'NVIDIA', model: 'RTX 4090', vramMiB: 24564 }],
    }),
  ],
  ['director', factsFor('director', { cpu: { brand: 'Test CPU', cores: 1, physicalCores: 1 }, memory: { totalBytes: 512 * 1024 ** 2 } })],
]);

interface Rendered {
  /** Resources whose `when:` holds on the node, by id. */
  resources: Map<string, Resource>;
  /** Rendered bodies of file and unit resources, by path (files) or unit name. */
  files: Map<string, string>;
}

/** What an agent with `facts` would put on the node: applicable resources and rendered bodies. */
function renderNode(desired: NodeDesired, facts: Facts): Rendered {
  const resources = new Map<string, Resource>();
  const files = new Map<string, string>();
  for (const r of desired.resources) {
    if (!resourceApplies(desired, r, facts)) continue;
    resources.set(r.id, r);
    if ((r.type === 'file' || r.type === 'unit') && r.body) {
      const text = renderBody(desired, { body: r.body, ...(r.vars ? { vars: r.vars } : {}) }, facts).toString('utf8');
      files.set(r.type === 'file' ? r.path : r.name, text);
    }
  }
  return { resources, files };
}

describe('examples/colab compiled by the hub and rendered with facts', () => {
  let repo: GitRepo;
  let cache: string;
  let rev: CompiledRevision;
  const nodes = new Map<string, Rendered>();
  const node = (name: string) => nodes.get(name) as Rendered;

  beforeAll(async () => {
    // an empty first commit, then the example copied in and committed as is
    repo = await makeGitRepo({}, 'empty');
    await cp(EXAMPLE_DIR, repo.dir, { recursive: true });
    await commitFiles(repo.dir, {}, 'colab example');
    cache = await mkdtemp(join(tmpdir(), 'stems-colab-cache-'));
    const source = openRepoSource({ url: repo.dir, branch: 'main', cacheDir: cache });
    const commit = (await source.fetch()) as CommitInfo;
    rev = await compileRevision(source.reader(commit.commit), commit, FACTS);
    for (const [name, desired] of rev.nodes) nodes.set(name, renderNode(desired, FACTS.get(name) as Facts));
  });
  afterAll(async () => {
    await repo?.cleanup();
    if (cache) await rm(cache, { recursive: true, force: true });
  });

  it('compiles to a valid revision for the three nodes, nothing waiting for facts', () => {
    expect(rev.problems).toEqual([]);
    expect(rev.state).toBe('valid');
    expect(rev.cluster).toBe('colab');
    expect([...rev.nodes.keys()].sort()).toEqual(NAMES);
    expect(rev.waitingForFacts.size).toBe(0);
  });

  it('the GPU-only role renders on projector alone, from its GPU facts', () => {
    const gpuResources = (name: string) => [...node(name).resources.values()].filter((r) => r.origin.startsWith('roles/gpu/'));
    expect(gpuResources('projector').map((r) => r.id)).toEqual(['file:/etc/gpu-node.conf']);
    expect(gpuResources('cooperator')).toEqual([]);
    expect(gpuResources('director')).toEqual([]);
    expect(node('projector').files.get('/etc/gpu-node.conf')).toContain('gpu0 vendor="NVIDIA" model="RTX 4090" vram_mib=24564');
    for (const name of ['cooperator', 'director']) expect(node(name).files.has('/etc/gpu-node.conf')).toBe(false);
    // the motd mentions a GPU only where there is one
    expect(node('projector').files.get('/etc/motd')).toContain('GPU: RTX 4090');
    expect(node('director').files.get('/etc/motd')).not.toContain('GPU');
  });

  it('docker daemon.json is valid JSON tuned from cores and memory, on the compute nodes only', () => {
    expect(node('cooperator').files.has('/etc/docker/daemon.json')).toBe(false);
    const daemon = (name: string) => JSON.parse(node(name).files.get('/etc/docker/daemon.json') ?? 'missing') as Record<string, unknown>;
    // 8 cores -> 4 parallel pulls/pushes; 32 GiB / 16 = 2048 MiB of /dev/shm
    expect(daemon('projector')).toEqual({
      'data-root': '/srv/docker', // the compute group's var over the role default
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '10m', 'max-file': '3' },
      'max-concurrent-downloads': 4,
      'max-concurrent-uploads': 4,
      'default-shm-size': '2048M',
      'live-restore': true,
    });
    // 1 core and 512 MiB: the floors (1 download, 64M) hold
    expect(daemon('director')).toMatchObject({ 'max-concurrent-downloads': 1, 'max-concurrent-uploads': 1, 'default-shm-size': '64M' });
  });

  it('/etc/hosts on every node lists all three nodes with their cluster addresses', () => {
    for (const name of NAMES) {
      const hosts = node(name).files.get('/etc/hosts') ?? '';
      expect(hosts).toMatch(/^192\.168\.254\.10\tcooperator\.colab\.lan cooperator$/m);
      expect(hosts).toMatch(/^192\.168\.254\.20\tprojector\.colab\.lan projector$/m);
      expect(hosts).toMatch(/^192\.168\.254\.30\tdirector\.colab\.lan director$/m);
      expect(hosts).toContain(`127.0.1.1\t${name}.colab.lan ${name}\n`);
    }
  });

  it('each sysctl drop-in notifies a refresh-only exec that loads that very file', () => {
    const dropIns = {
      cooperator: ['/etc/sysctl.d/90-stems.conf', '/etc/sysctl.d/80-gateway.conf'],
      projector: ['/etc/sysctl.d/90-stems.conf'],
      director: ['/etc/sysctl.d/90-stems.conf'],
    };
    for (const [name, paths] of Object.entries(dropIns)) {
      const { resources } = node(name);
      const found = [...resources.values()].filter((r) => r.type === 'file' && r.path.startsWith('/etc/sysctl.d/'));
      expect(found.map((r) => r.type === 'file' && r.path).sort()).toEqual([...paths].sort());
      for (const dropIn of found) {
        expect(dropIn.notify).toHaveLength(1);
        const handler = resources.get(dropIn.notify[0] as string);
        expect(handler).toMatchObject({ type: 'exec', refreshonly: true });
        expect(handler?.type === 'exec' && handler.argv).toEqual(['sysctl', '--load', dropIn.type === 'file' && dropIn.path]);
      }
    }
    expect(node('projector').files.get('/etc/sysctl.d/90-stems.conf')).toBe('vm.swappiness = 10\n');
    expect(node('cooperator').files.get('/etc/sysctl.d/80-gateway.conf')).toContain('net.ipv4.ip_forward = 1\n');
    expect(node('director').resources.has('file:/etc/sysctl.d/80-gateway.conf')).toBe(false);
  });
});
