import { decodePublicKey, StemsError } from '@stems/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { FailureLimiter } from '../auth/failure-limiter.js';
import { DATE_HEADER, NODE_HEADER, SIGNATURE_HEADER, verifyRequestSignature } from '../auth/node-signature.js';
import type { Role } from '../store/tokens.js';

/** Who made a request: an operator token or a node signing with its key (viewer rights). */
export type Principal = { kind: 'token'; name: string; role: Role } | { kind: 'node'; name: string; role: 'viewer' };

/** The least a route needs. `public` routes (health, the agent socket) authenticate themselves or need nothing. */
export type RouteAccess = Role | 'public';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Failed authentications one client address may make per window before it gets 429. @default 20 per minute */
export const AUTH_FAILURE_LIMIT = { maxFailures: 20, windowMs: 60_000 };

/** One registered route and the access it declared (undefined: none, so denied). */
export interface RouteAccessEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after the auth plugin, with its declared access: the inventory a test audits. */
    routeAccess: readonly RouteAccessEntry[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

function authenticate(app: FastifyInstance, request: FastifyRequest): Principal | null {
  const authorization = header(request, 'authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const token = match?.[1] && app.hub.store.tokens.lookup(match[1]);
    return token ? { kind: 'token', name: token.name, role: token.role } : null;
  }
  const nodeName = header(request, NODE_HEADER);
  const date = header(request, DATE_HEADER);
  const signature = header(request, SIGNATURE_HEADER);
  if (nodeName === undefined || date === undefined || signature === undefined) return null;
  const node = app.hub.store.nodes.get(nodeName);
  if (node?.state !== 'accepted') return null;
  const ok = verifyRequestSignature({
    method: request.method,
    path: request.url,
    date,
    signature,
    publicKey: decodePublicKey(node.publicKey),
    now: app.hub.now(),
  });
  return ok ? { kind: 'node', name: node.name, role: 'viewer' } : null;
}

/**
 * Every route declares `config.access`; a route without one is denied
 * (default deny). Node signatures only ever carry viewer rights.
 */
export const authPlugin = fp(async (app: FastifyInstance) => {
  app.decorateRequest('principal', null);
  const routes: RouteAccessEntry[] = [];
  app.decorate('routeAccess', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access: route.config?.access });
  });
  const limiter = new FailureLimiter(app.hub.store.db, AUTH_FAILURE_LIMIT);
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === 'public') return;
    // Unknown URLs have no route config; let the not-found handler answer them.
    if (request.is404) return;
    if (access === undefined) {
      throw new StemsError('STEMS_AUTH_FORBIDDEN', `Route ${request.method} ${request.routeOptions.url} declares no access level`, {
        statusCode: 403,
      });
    }
    const nowMs = app.hub.now().getTime();
    if (limiter.blocked(request.ip, nowMs)) {
      throw new StemsError('STEMS_AUTH_RATE_LIMITED', 'Too many failed authentications from this address', {
        hint: 'Wait a minute, then retry with a valid token.',
        statusCode: 429,
      });
    }
    const principal = authenticate(app, request);
    if (!principal) {
      limiter.fail(request.ip, nowMs);
      throw new StemsError('STEMS_AUTH_REQUIRED', 'This request needs a valid token or node signature', {
        hint: 'Pass --token / STEMS_TOKEN (create one on the hub with `hub token create --role viewer`).',
        statusCode: 401,
      });
    }
    if (RANK[principal.role] < RANK[access]) {
      throw new StemsError('STEMS_AUTH_FORBIDDEN', `The ${principal.role} role cannot do this; it needs ${access}`, {
        hint: `Use a token with the ${access} role (\`hub token create --role ${access}\`).`,
        statusCode: 403,
      });
    }
    request.principal = principal;
  });
});

/** Name recorded in approvals and the audit log. */
export function actorOf(request: FastifyRequest): string {
  const p = request.principal;
  if (!p) return 'anonymous';
  return p.kind === 'token' ? p.name : `node:${p.name}`;
}
