import { approveRevision } from '../approval/approve.js';
import type { HubCore } from '../core.js';
import type { HubApi } from '../hub-api.js';
import { changeNodeState } from '../node-actions.js';
import { listNodes, listRevisions } from '../revision-list.js';
import { buildStatus } from '../status.js';
import { syncOnce } from '../sync.js';
import { createJoinToken, createToken, listTokens, revokeToken } from '../token-actions.js';

/** Actor name of admin commands run on the hub host without a token. */
export const LOCAL_ACTOR = 'local';

/** The hub API straight on the data dir (hub host, no server needed). */
export function localApi(hub: HubCore, diff: HubApi['diff']): HubApi {
  const by = LOCAL_ACTOR;
  return {
    status: async () => buildStatus(hub),
    revisions: async () => listRevisions(hub),
    diff,
    approve: (input) => approveRevision(hub, { ...input, by, kind: 'approve' }),
    rollback: (input) => approveRevision(hub, { ...input, by, kind: 'rollback' }),
    nodes: async () => listNodes(hub),
    nodeAction: async (name, action) => {
      const n = changeNodeState(hub, { name, action, by });
      return { name: n.name, state: n.state, fingerprint: n.fingerprint, lastSeen: n.lastSeen };
    },
    createToken: async (role, name) => createToken(hub, { role, by, ...(name ? { name } : {}) }),
    createJoinToken: async (ttlSec) => createJoinToken(hub, { by, ...(ttlSec ? { ttlSec } : {}) }),
    listTokens: async () => listTokens(hub),
    revokeToken: async (name) => revokeToken(hub, { name, by }),
    sync: () => syncOnce(hub),
    close: async () => hub.store.close(),
  };
}
