import {
  type BundleFile,
  type BundlePayload,
  type LoadedRepo,
  ownedKeys,
  type Policy,
  type Resource,
  rolesOfNode,
  type Vars,
} from '@stems/shared';
import type { CommitInfo } from '../git/repo-source.js';
import { at, type ProblemSet } from './problems.js';
import type { RoleResource } from './role-compile.js';

/** A node's desired state before approval: a bundle payload without serial, times and approval. */
export type NodeDesired = Omit<BundlePayload, 'format' | 'serial' | 'issuedAt' | 'expiresAt' | 'approval'>;

type DriftPolicy = Resource['drift'];
type OnFailurePolicy = NodeDesired['policy']['onFailure'];

/** Policy when the repo sets none. */
export const DEFAULT_POLICY = Object.freeze({ drift: 'enforce', onFailure: 'rollback' } as const);

export interface NodeBuild {
  desired: NodeDesired;
  /** The role resource behind each of `desired.resources`, same order. */
  entries: RoleResource[];
}

/** The node's groups in precedence order, lowest first: `all`, then its own in the order written. */
function groupsOf(repo: LoadedRepo, node: string): string[] {
  const own = repo.cluster.nodes[node]?.groups ?? [];
  return ['all', ...own.filter((g) => g !== 'all')];
}

/**
 * Variables, lowest first: role defaults (role order) < cluster < groups (all
 * first, then the node's groups in the order written) < node. The merge is by
 * top-level name: a map set in a later layer replaces the whole map.
 */
export function nodeVars(repo: LoadedRepo, node: string, roles: readonly string[]): Vars {
  const vars: Vars = {};
  for (const role of roles) Object.assign(vars, repo.roles.get(role)?.spec.vars);
  Object.assign(vars, repo.cluster.vars);
  for (const group of groupsOf(repo, node)) Object.assign(vars, repo.cluster.groups?.[group]?.vars);
  Object.assign(vars, repo.cluster.nodes[node]?.vars);
  return vars;
}

/** Policy, most specific wins: cluster < groups (all first) < node. Resources may override drift. */
export function nodePolicy(repo: LoadedRepo, node: string): { drift: DriftPolicy; onFailure: OnFailurePolicy } {
  const layers: (Policy | undefined)[] = [
    repo.cluster.policy,
    ...groupsOf(repo, node).map((g) => repo.cluster.groups?.[g]?.policy),
    repo.cluster.nodes[node]?.policy,
  ];
  let drift: DriftPolicy = DEFAULT_POLICY.drift;
  let onFailure: OnFailurePolicy = DEFAULT_POLICY.onFailure;
  for (const layer of layers) {
    drift = layer?.drift ?? drift;
    onFailure = layer?.onFailure ?? onFailure;
  }
  return { drift, onFailure };
}

export interface BuildNodeOptions {
  repo: LoadedRepo;
  commit: CommitInfo;
  roles: ReadonlyMap<string, RoleResource[]>;
  node: string;
}

export function buildNode(opts: BuildNodeOptions): NodeBuild {
  const { repo, node } = opts;
  const roles = rolesOfNode(repo.cluster, node);
  const policy = nodePolicy(repo, node);
  const entries = roles.flatMap((role) => opts.roles.get(role) ?? []);
  const files: Record<string, BundleFile> = {};
  const resources: Resource[] = entries.map((entry) => {
    for (const [sha, file] of entry.files) files[sha] = file;
    return { ...entry.resource, drift: entry.driftOverride ?? policy.drift };
  });
  const desired: NodeDesired = {
    cluster: repo.cluster.cluster,
    node,
    // the groups as written for the node ({{node.groups}}); `all` is implicit
    groups: [...(repo.cluster.nodes[node]?.groups ?? [])],
    revision: { commit: opts.commit.commit, subject: opts.commit.subject, author: opts.commit.author },
    policy: { onFailure: policy.onFailure },
    vars: nodeVars(repo, node, roles),
    resources,
    files,
  };
  return { desired, entries };
}

function describeKey(key: string): string {
  const cut = key.indexOf(':');
  return `${key.slice(0, cut)} ${key.slice(cut + 1)}`;
}

/** One owner per path/unit/package, unique ids, and `notify` naming ids the node has. */
export function checkNode(build: NodeBuild, problems: ProblemSet): void {
  const node = build.desired.node;
  const owners = new Map<string, RoleResource>();
  const ids = new Map<string, RoleResource>();
  for (const entry of build.entries) {
    const { id, origin } = entry.resource;
    let conflicted = false;
    for (const key of ownedKeys(entry.resource)) {
      const prev = owners.get(key);
      if (!prev) {
        owners.set(key, entry);
        continue;
      }
      conflicted = true;
      const message = `${describeKey(key)} is managed twice: by ${prev.resource.origin} (${prev.resource.id}) and by ${origin} (${id})`;
      problems.add('STEMS_REPO_CONFLICT', entry.pos, message, node);
      break;
    }
    const prev = ids.get(id);
    if (!prev) ids.set(id, entry);
    else if (!conflicted) {
      const message = `resource id "${id}" is used twice: by ${prev.resource.origin} and by ${origin}; give one of them another id:`;
      problems.add('STEMS_REPO_DUPLICATE_ID', entry.pos, message, node);
    }
  }
  for (const entry of build.entries) {
    for (const [j, target] of entry.resource.notify.entries()) {
      if (ids.has(target)) continue;
      const pos = at(entry.role.yaml, ['resources', entry.index, 'notify', j]);
      problems.add('STEMS_REPO_UNKNOWN_NOTIFY', pos, `notify: no resource on the node has id "${target}"`, node);
    }
  }
}
