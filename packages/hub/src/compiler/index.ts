import { type ErrorCode, type Facts, loadRepo, type RepoProblem, type RepoReader, StemsError } from '@stems/shared';
import type { CommitInfo } from '../git/repo-source.js';
import { buildNode, checkNode, type NodeBuild, type NodeDesired } from './node-compile.js';
import { previewNode } from './preview.js';
import { ProblemSet } from './problems.js';
import { compileRole, type RoleResource } from './role-compile.js';

export { DEFAULT_POLICY, type NodeDesired, nodePolicy, nodeVars } from './node-compile.js';
export { defaultId, execId } from './role-compile.js';

/** Reader failures that say nothing about the revision. */
const OPERATIONAL = new Set<ErrorCode>(['STEMS_REVISION_NOT_FOUND', 'STEMS_GIT_FETCH']);

export interface CompiledRevision {
  commit: CommitInfo;
  state: 'valid' | 'invalid';
  problems: RepoProblem[];
  cluster: string | null;
  /** Empty when invalid: an invalid revision never yields a bundle. */
  nodes: Map<string, NodeDesired>;
  /** Per node: resource ids whose preview render needs facts the hub does not have yet. */
  waitingForFacts: Map<string, string[]>;
}

/**
 * Turns one commit into a desired state per node and runs the gates before
 * approval: schema, template compilation, one owner per thing, unique ids,
 * known notify targets, and a strict preview render per node with its last
 * known facts (`facts` has no entry, or null, for a node that never reported).
 */
export async function compileRevision(
  reader: RepoReader,
  commit: CommitInfo,
  facts: ReadonlyMap<string, Facts | null>,
): Promise<CompiledRevision> {
  const loaded = await loadRepo(reader);
  // loadRepo turns every StemsError of the reader into a problem; a commit the
  // hub cannot read is its own failure, not a fault of the revision
  const unreadable = loaded.problems.find((p) => OPERATIONAL.has(p.code));
  if (unreadable) {
    throw new StemsError(unreadable.code, unreadable.message, { hint: 'Fetch the repository again; the revision itself was not judged.' });
  }
  const problems = new ProblemSet();
  problems.addAll(loaded.problems);
  const waitingForFacts = new Map<string, string[]>();
  const repo = loaded.repo;
  if (!repo) return { commit, state: 'invalid', problems: problems.list(), cluster: null, nodes: new Map(), waitingForFacts };

  const roles = new Map<string, RoleResource[]>();
  for (const [name, role] of repo.roles) roles.set(name, compileRole(role, problems));

  const builds: NodeBuild[] = [];
  for (const node of Object.keys(repo.cluster.nodes)) {
    const build = buildNode({ repo, commit, roles, node });
    checkNode(build, problems);
    const waiting = previewNode(build, facts.get(node) ?? null, problems);
    if (waiting.length > 0) waitingForFacts.set(node, waiting);
    builds.push(build);
  }

  const valid = problems.size === 0;
  return {
    commit,
    state: valid ? 'valid' : 'invalid',
    problems: problems.list(),
    cluster: repo.cluster.cluster,
    nodes: valid ? new Map(builds.map((b) => [b.desired.node, b.desired])) : new Map(),
    waitingForFacts,
  };
}
