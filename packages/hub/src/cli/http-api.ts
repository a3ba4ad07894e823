import { isErrorCode, StemsError } from '@stems/shared';
import { signRequest } from '../auth/node-signature.js';
import type { HubApi } from '../hub-api.js';

/** How long a client waits for the hub. @default 30000 */
export const REQUEST_TIMEOUT_MS = 30_000;

function apiError(status: number, body: unknown, url: string): StemsError {
  const error = typeof body === 'object' && body !== null && 'error' in body ? body.error : undefined;
  if (typeof error === 'object' && error !== null && 'code' in error && isErrorCode(error.code) && 'message' in error) {
    const hint = 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
    const details = 'details' in error && typeof error.details === 'object' && error.details !== null ? { ...error.details } : undefined;
    return new StemsError(error.code, String(error.message), {
      statusCode: status,
      ...(hint ? { hint } : {}),
      ...(details ? { details } : {}),
    });
  }
  return new StemsError('STEMS_HUB_UNREACHABLE', `${url} answered HTTP ${status} without a stems error`, {
    hint: 'Check that --hub points at a stems hub (http://host:7400).',
  });
}

/** How a client proves who it is: an API token, or a node key (read-only). */
export type ClientAuth = { token: string } | { node: string; secretKey: Uint8Array };

/** The hub API over HTTP. */
export function httpApi(baseUrl: string, auth: ClientAuth, timeoutMs = REQUEST_TIMEOUT_MS): HubApi {
  const base = baseUrl.replace(/\/+$/, '');
  // A node signs the request target exactly as the hub will see it: path plus query.
  const authHeaders = (method: string, url: URL): Record<string, string> =>
    'token' in auth
      ? { authorization: `Bearer ${auth.token}` }
      : signRequest({ method, path: url.pathname + url.search, node: auth.node, secretKey: auth.secretKey });
  async function call<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
    const url = `${base}/api/v1${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...authHeaders(method, new URL(url)), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new StemsError('STEMS_HUB_UNREACHABLE', `Cannot reach the hub at ${base}`, {
        cause: err,
        hint: 'Check --hub / STEMS_HUB_URL and that `hub serve` is running there.',
      });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch (err) {
      throw new StemsError('STEMS_HUB_UNREACHABLE', `${url} answered with something other than JSON`, { cause: err });
    }
    if (!res.ok) throw apiError(res.status, parsed, url);
    // The hub's own documented shapes (docs/api.md); the CLI prints them, it does not act on them.
    return parsed as T;
  }
  const q = encodeURIComponent;
  return {
    status: () => call('GET', '/status'),
    revisions: () => call('GET', '/revisions'),
    diff: (rev, node) => call('GET', `/revisions/${q(rev)}/diff${node ? `?node=${q(node)}` : ''}`),
    approve: (input) => call('POST', '/approvals', input),
    rollback: ({ rev, ...rest }) => call('POST', '/rollbacks', { to: rev, ...rest }),
    nodes: () => call('GET', '/nodes'),
    nodeAction: (name, action) => call('POST', `/nodes/${q(name)}/${action}`),
    createToken: (role, name) => call('POST', '/tokens', { role, ...(name ? { name } : {}) }),
    createJoinToken: (ttlSec) => call('POST', '/join-tokens', ttlSec ? { ttlSec } : {}),
    listTokens: () => call('GET', '/tokens'),
    revokeToken: (name) => call('POST', `/tokens/${q(name)}/revoke`),
    sync: () => call('POST', '/sync'),
    close: async () => undefined,
  };
}
