import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testHub } from '../_test-hub.js';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('API auth and errors', () => {
  it('health is public and names the hub version; status needs a token', async () => {
    const { app } = await testHub();
    const health = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({
      ok: true,
      version: JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    });
    const res = await app.inject({ method: 'GET', url: '/api/v1/status' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('STEMS_AUTH_REQUIRED');
    expect(res.json().error.hint).toMatch(/token/);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/status', headers: auth('stems_nope') });
    expect(bad.statusCode).toBe(401);
  });

  it('a viewer can read but cannot approve, sync or create tokens (403)', async () => {
    const hub = await testHub();
    const viewer = hub.token('viewer');
    const status = await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(viewer) });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ cluster: null, branch: 'main', latestRevision: null, pendingRevisions: 0, nodes: [] });
    for (const [url, payload] of [
      ['/api/v1/approvals', { rev: 'latest' }],
      ['/api/v1/sync', undefined],
      ['/api/v1/tokens', { role: 'admin' }],
    ] as const) {
      const res = await hub.app.inject({ method: 'POST', url, headers: auth(viewer), ...(payload ? { payload } : {}) });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe('STEMS_AUTH_FORBIDDEN');
    }
    expect(hub.app.hub.store.bundles.approvals()).toEqual([]);
    expect(hub.app.hub.store.tokens.count()).toBe(1);
  });

  it('a malformed body is 400 STEMS_REQUEST_INVALID and changes nothing', async () => {
    const hub = await testHub();
    const admin = hub.token('admin');
    const cases = [
      { url: '/api/v1/tokens', payload: { role: 'root' } },
      { url: '/api/v1/tokens', payload: { role: 'viewer', extra: 1 } },
      { url: '/api/v1/approvals', payload: { rev: 'latest', nodes: ['Bad Name'] } },
      { url: '/api/v1/join-tokens', payload: { ttlSec: 'soon' } },
    ];
    for (const c of cases) {
      const res = await hub.app.inject({ method: 'POST', url: c.url, headers: auth(admin), payload: c.payload });
      expect(res.statusCode, JSON.stringify(c)).toBe(400);
      expect(res.json().error.code).toBe('STEMS_REQUEST_INVALID');
    }
    const notJson = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { ...auth(admin), 'content-type': 'application/json' },
      payload: '{"role":',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('STEMS_REQUEST_INVALID');
    expect(hub.app.hub.store.tokens.count()).toBe(1);
    expect(hub.app.hub.store.audit.list()).toEqual([]);
  });

  it('unknown routes are 404 STEMS_NOT_FOUND in the same shape', async () => {
    const { app } = await testHub();
    const res = await app.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('STEMS_NOT_FOUND');
  });

  it('an admin creates tokens (secret shown once, audited, never logged) and join tokens', async () => {
    const hub = await testHub();
    const admin = hub.token('admin');
    const res = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: auth(admin),
      payload: { role: 'operator', name: 'ci' },
    });
    expect(res.statusCode).toBe(201);
    const { token, name, role } = res.json();
    expect({ name, role }).toEqual({ name: 'ci', role: 'operator' });
    expect(hub.app.hub.store.tokens.lookup(token)?.role).toBe('operator');
    const dup = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: auth(admin),
      payload: { role: 'viewer', name: 'ci' },
    });
    expect(dup.statusCode).toBe(409);
    const join = await hub.app.inject({ method: 'POST', url: '/api/v1/join-tokens', headers: auth(admin), payload: { ttlSec: 600 } });
    expect(join.statusCode).toBe(201);
    expect(join.json().token).toMatch(/^stemsjoin_/);
    expect(hub.app.hub.store.audit.list().map((e) => e.action)).toEqual(['join-token.create', 'token.create']);
    // Secrets never reach the log, not even in the auth header.
    const all = hub.logs.join('');
    expect(all).not.toContain(token);
    expect(all).not.toContain(admin);
    expect(all).not.toContain(join.json().token);
  });

  it('an admin lists tokens (no secrets) and revokes one: it stops working at once, audited', async () => {
    const hub = await testHub();
    const admin = hub.token('admin');
    const created = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: auth(admin),
      payload: { role: 'viewer', name: 'alice' },
    });
    const alice = created.json().token as string;
    expect((await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(alice) })).statusCode).toBe(200);
    const list = await hub.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: auth(admin) });
    expect(list.json().map((t: { name: string; role: string }) => [t.name, t.role])).toContainEqual(['alice', 'viewer']);
    expect(list.body).not.toContain(alice);
    const viewerTry = await hub.app.inject({ method: 'POST', url: '/api/v1/tokens/alice/revoke', headers: auth(alice) });
    expect(viewerTry.statusCode).toBe(403);
    const revoked = await hub.app.inject({ method: 'POST', url: '/api/v1/tokens/alice/revoke', headers: auth(admin) });
    expect(revoked.json()).toEqual({ name: 'alice', revoked: true });
    expect((await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(alice) })).statusCode).toBe(401);
    expect(hub.app.hub.store.audit.list().map((a) => [a.action, a.target])).toContainEqual(['token.revoke', 'alice']);
    const again = await hub.app.inject({ method: 'POST', url: '/api/v1/tokens/alice/revoke', headers: auth(admin) });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('STEMS_NOT_FOUND');
  });

  it('node actions need an operator and a known node', async () => {
    const hub = await testHub();
    const op = hub.token('operator');
    const res = await hub.app.inject({ method: 'POST', url: '/api/v1/nodes/ghost/accept', headers: auth(op) });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('STEMS_NODE_NOT_FOUND');
    const bad = await hub.app.inject({ method: 'POST', url: '/api/v1/nodes/ghost/explode', headers: auth(op) });
    expect(bad.statusCode).toBe(400);
  });

  it('too many failed authentications from one address get 429, even with a good token', async () => {
    const hub = await testHub();
    const good = hub.token('viewer');
    for (let i = 0; i < 20; i++) {
      expect((await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(`stems_guess${i}`) })).statusCode).toBe(401);
    }
    const res = await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(good) });
    expect(res.statusCode).toBe(429);
    expect(res.json().error.code).toBe('STEMS_AUTH_RATE_LIMITED');
    const other = await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: auth(good), remoteAddress: '127.0.0.2' });
    expect(other.statusCode).toBe(200);
  });
});
