import { StemsError } from '@stems/shared';
import type { HubCore } from './core.js';
import type { NodeRecord } from './store/nodes.js';

export type NodeAction = 'accept' | 'reject' | 'revoke';
const STATE = { accept: 'accepted', reject: 'rejected', revoke: 'revoked' } as const;

/** Accepts, rejects or revokes a node key, audited in the same transaction; a connected agent hears at once. */
export function changeNodeState(hub: HubCore, req: { name: string; action: NodeAction; by: string }): NodeRecord {
  const state = STATE[req.action];
  const node = hub.store.transaction(() => {
    const current = hub.store.nodes.get(req.name);
    if (!current) {
      throw new StemsError('STEMS_NODE_NOT_FOUND', `No node named "${req.name}" has connected to this hub`, {
        hint: 'Run `hub nodes` to list nodes; a node appears once its agent connects.',
        statusCode: 404,
      });
    }
    hub.store.nodes.setState(req.name, state);
    hub.store.audit.append({
      at: hub.now().toISOString(),
      actor: req.by,
      action: `node.${req.action}`,
      target: req.name,
      details: { from: current.state, to: state, fingerprint: current.fingerprint },
    });
    return { ...current, state };
  });
  hub.log.info({ node: req.name, state, by: req.by }, 'node state changed');
  hub.nodeChanged(req.name, state);
  return node;
}
