import { StemsError } from '@stems/shared';
import type { HubCore } from './core.js';
import type { Role } from './store/tokens.js';

/** Join tokens live one hour unless told otherwise. @default 3600 */
export const DEFAULT_JOIN_TTL_SEC = 3600;

/** Creates an operator token; the secret is returned once and only its hash is kept. */
export function createToken(hub: HubCore, req: { role: Role; name?: string; by: string }): { name: string; role: Role; token: string } {
  const at = hub.now().toISOString();
  return hub.store.transaction(() => {
    const name = req.name ?? `${req.role}-${hub.store.tokens.count() + 1}`;
    if (hub.store.tokens.exists(name)) {
      throw new StemsError('STEMS_REQUEST_INVALID', `A token named "${name}" already exists`, {
        hint: 'Pick another --name.',
        statusCode: 409,
      });
    }
    const token = hub.store.tokens.create({ name, role: req.role, at, by: req.by });
    hub.store.audit.append({ at, actor: req.by, action: 'token.create', target: name, details: { role: req.role } });
    return { name, role: req.role, token };
  });
}

/** Creates a one-time join token that enrolls and accepts one node. */
export function createJoinToken(hub: HubCore, req: { ttlSec?: number; by: string }): { token: string; expiresAt: string } {
  const now = hub.now();
  const expiresAt = new Date(now.getTime() + (req.ttlSec ?? DEFAULT_JOIN_TTL_SEC) * 1000).toISOString();
  return hub.store.transaction(() => {
    const token = hub.store.tokens.createJoin({ at: now.toISOString(), expiresAt, by: req.by });
    hub.store.audit.append({
      at: now.toISOString(),
      actor: req.by,
      action: 'join-token.create',
      target: 'join-token',
      details: { expiresAt },
    });
    return { token, expiresAt };
  });
}
