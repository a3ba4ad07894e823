import { StemsError } from '@stems/shared';
import type { HubCore } from './core.js';
import type { Role, TokenRecord } from './store/tokens.js';

/** Name of the admin token `hub serve` renews at each start for commands on the hub host. */
export const LOCAL_TOKEN_NAME = 'local';

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

/** The API tokens (names, roles, who made them); secrets are never kept. */
export function listTokens(hub: HubCore): TokenRecord[] {
  return hub.store.tokens.list();
}

/** Revokes an API token by name: requests carrying it get 401 from now on. Audited. */
export function revokeToken(hub: HubCore, req: { name: string; by: string }): { name: string; revoked: true } {
  if (req.name === LOCAL_TOKEN_NAME) {
    throw new StemsError('STEMS_REQUEST_INVALID', `The "${LOCAL_TOKEN_NAME}" token is the hub host's own and is renewed at every start`, {
      hint: 'Revoke the tokens you created; `hub token list` shows them.',
      statusCode: 409,
    });
  }
  const at = hub.now().toISOString();
  return hub.store.transaction(() => {
    if (!hub.store.tokens.revoke(req.name)) {
      throw new StemsError('STEMS_NOT_FOUND', `No token is named "${req.name}"`, {
        hint: '`hub token list` shows the names.',
        statusCode: 404,
      });
    }
    hub.store.audit.append({ at, actor: req.by, action: 'token.revoke', target: req.name, details: {} });
    return { name: req.name, revoked: true as const };
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
