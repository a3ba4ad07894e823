import { StemsError } from '@stems/shared';
import { diffNode, type NodeDiff } from '../compiler/diff.js';
import type { HubCore } from '../core.js';
import { invalidRevision } from './approve.js';
import { desiredOf, storedPayload } from './payload.js';

/**
 * What approving `rev` would change, per node: its compiled desired state
 * against the node's current approved bundle, previewed with the node's facts.
 * A node the revision drops shows everything removed.
 */
export async function diffRevision(hub: HubCore, req: { rev: string; node?: string }): Promise<NodeDiff[]> {
  const revision = hub.store.revisions.resolve(req.rev);
  if (revision.state === 'invalid') throw invalidRevision(revision, revision.problems);
  const compiled = await hub.compile(revision, hub.store.nodes.factsByNode());
  if (compiled.state === 'invalid') throw invalidRevision(revision, compiled.problems);
  const withBundles = hub.store.bundles.latestAll();
  const names = req.node ? [req.node] : [...new Set([...compiled.nodes.keys(), ...withBundles.map((b) => b.node)])].sort();
  if (req.node && !compiled.nodes.has(req.node) && !withBundles.some((b) => b.node === req.node)) {
    throw new StemsError(
      'STEMS_NODE_NOT_FOUND',
      `Revision ${revision.commit.slice(0, 12)} defines no node "${req.node}" and it has no bundle`,
      {
        hint: 'Node names come from cluster.yaml; `hub nodes` lists enrolled nodes.',
        statusCode: 404,
      },
    );
  }
  return names.map((node) => {
    const current = withBundles.find((b) => b.node === node);
    return diffNode(
      current ? desiredOf(storedPayload(current.envelope)) : null,
      compiled.nodes.get(node) ?? null,
      hub.store.nodes.facts(node),
    );
  });
}
