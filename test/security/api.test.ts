import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { dumpStore, hubOnDataDir, type SecurityHub, securityHub } from './_hub.js';

// Every HTTP route of a real hub (in-process, real SQLite file, real repo),
// taken from the hub's own route inventory so a new route is covered the day
// it is added: no token → 401, viewer on writes → 403, malformed bodies,
// pollution keys, junk queries → 400 with a code, and the store unchanged.

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Values for route params, so each request reaches its handler. */
const PARAMS: Record<string, string> = { name: 'good', action: 'accept', rev: 'latest' };
/** Routes with a querystring schema: junk in the query is a 400. */
const QUERY_ROUTES = new Set(['GET /api/v1/revisions', 'GET /api/v1/revisions/:rev/diff', 'GET /api/v1/nodes/:name/drift']);
/** auth_failures changes by design when a request fails to authenticate. */
const withoutLimiter = (dump: Record<string, unknown[]>) => ({ ...dump, auth_failures: [] });

function protectedRoutes(h: SecurityHub): { method: Method; url: string; path: string }[] {
  return h.hub.app.routeAccess
    .filter((r) => r.access !== 'public' && r.method !== 'HEAD')
    .map((r) => ({
      method: r.method as Method,
      url: r.url,
      path: r.url.replace(/:(\w+)/g, (_, p: string) => PARAMS[p] ?? 'good'),
    }));
}

let ip = 0;
/** A fresh client address per request, so the failure limiter does not mix the cases. */
const nextIp = () => `10.9.${(++ip >> 8) & 255}.${ip & 255}`;

describe('every protected route', () => {
  it('answers 401 STEMS_AUTH_REQUIRED without a token (and with a wrong one), and changes nothing', async () => {
    const h = await securityHub();
    const routes = protectedRoutes(h);
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const before = withoutLimiter(dumpStore(h.hub.app.hub.store));
    let checked = 0;
    for (const r of routes) {
      for (const headers of [{}, { authorization: 'Bearer stems_wrong' }, { authorization: 'Basic YTpi' }, { authorization: 'Bearer' }]) {
        const res = await h.hub.app.inject({
          method: r.method,
          url: r.path,
          headers,
          remoteAddress: nextIp(),
          ...(WRITE.has(r.method) ? { payload: {} } : {}),
        });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        expect(res.json().error.code).toBe('STEMS_AUTH_REQUIRED');
        checked++;
      }
    }
    expect(withoutLimiter(dumpStore(h.hub.app.hub.store))).toEqual(before);
    console.info(`[security] api: ${checked} unauthenticated requests on ${routes.length} routes → 401`);
  });

  it('answers 403 STEMS_AUTH_FORBIDDEN to a viewer on every write route, and changes nothing', async () => {
    const h = await securityHub();
    const writes = protectedRoutes(h).filter((r) => WRITE.has(r.method));
    expect(writes.length).toBeGreaterThanOrEqual(6);
    const before = dumpStore(h.hub.app.hub.store);
    for (const r of writes) {
      const res = await h.hub.app.inject({
        method: r.method,
        url: r.path,
        headers: h.as.viewer,
        payload: { rev: 'latest', role: 'admin' },
      });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(403);
      expect(res.json().error.code).toBe('STEMS_AUTH_FORBIDDEN');
    }
    expect(dumpStore(h.hub.app.hub.store)).toEqual(before);
  });

  it('refuses malformed bodies, pollution keys, wrong media types and huge bodies with a 4xx code, and changes nothing', async () => {
    const h = await securityHub();
    const writes = protectedRoutes(h).filter((r) => WRITE.has(r.method));
    const before = dumpStore(h.hub.app.hub.store);
    const bodies: { type: string; body: string; status: number[] }[] = [
      { type: 'application/json', body: '{"role":', status: [400] },
      { type: 'application/json', body: '{"__proto__":{"role":"admin"},"rev":"latest"}', status: [400] },
      { type: 'application/json', body: '{"constructor":{"prototype":{"role":"admin"}},"rev":"latest"}', status: [400] },
      { type: 'application/json', body: '{"a":'.repeat(10_000), status: [400] },
      { type: 'application/json', body: JSON.stringify({ note: 'x'.repeat(2 * 1024 * 1024) }), status: [413] },
      { type: 'text/plain', body: 'rev=latest', status: [415] },
      { type: 'application/octet-stream', body: 'rev=latest', status: [415] },
      { type: 'application/x-www-form-urlencoded', body: 'rev=latest', status: [415] },
    ];
    let checked = 0;
    for (const r of writes) {
      for (const b of bodies) {
        const res = await h.hub.app.inject({
          method: r.method,
          url: r.path,
          headers: { ...h.as.admin, 'content-type': b.type },
          payload: b.body,
        });
        expect(b.status, `${r.method} ${r.url} ${b.body.slice(0, 40)}: ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(
          res.statusCode,
        );
        expect(res.json().error.code).toBe('STEMS_REQUEST_INVALID');
        checked++;
      }
    }
    // Routes with a body schema also refuse well-formed JSON of the wrong shape.
    for (const [url, body] of [
      ['/api/v1/approvals', []],
      ['/api/v1/approvals', 'latest'],
      ['/api/v1/approvals', null],
      ['/api/v1/approvals', { rev: 42 }],
      ['/api/v1/approvals', { rev: 'latest', nodes: ['../etc'] }],
      ['/api/v1/approvals', { rev: 'x'.repeat(65) }],
      ['/api/v1/rollbacks', { rev: 'latest' }],
      ['/api/v1/tokens', { role: 'root' }],
      ['/api/v1/tokens', { role: 'admin', name: '../../etc/passwd' }],
      ['/api/v1/tokens', { role: 'admin', isAdmin: true }],
      ['/api/v1/join-tokens', { ttlSec: -1 }],
      ['/api/v1/join-tokens', { ttlSec: 1e12 }],
    ] as const) {
      const res = await h.hub.app.inject({
        method: 'POST',
        url,
        headers: { ...h.as.admin, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      expect(res.statusCode, `${url} ${JSON.stringify(body)}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('STEMS_REQUEST_INVALID');
      checked++;
    }
    expect(dumpStore(h.hub.app.hub.store)).toEqual(before);
    expect(({} as Record<string, unknown>).role).toBeUndefined();
    console.info(`[security] api: ${checked} malformed bodies on ${writes.length} write routes → 4xx, store unchanged`);
  });

  it('refuses junk and huge query strings on routes that take a query; other routes ignore them and change nothing', async () => {
    const h = await securityHub();
    const before = dumpStore(h.hub.app.hub.store);
    const junk = [
      'limit=abc',
      'limit=-1',
      'limit=1e9',
      'limit=1&junk=1',
      '__proto__[admin]=1',
      'constructor[prototype][x]=1',
      `x=${'%'.repeat(20_000)}`,
      `limit=${'9'.repeat(50_000)}`,
    ];
    const routes = protectedRoutes(h).filter((r) => r.method === 'GET');
    for (const r of routes) {
      const key = `${r.method} ${r.url}`;
      for (const q of junk) {
        const res = await h.hub.app.inject({ method: 'GET', url: `${r.path}?${q}`, headers: h.as.admin });
        if (QUERY_ROUTES.has(key)) {
          expect(res.statusCode, `${key}?${q.slice(0, 40)}`).toBe(400);
          expect(res.json().error.code).toBe('STEMS_REQUEST_INVALID');
        } else expect(res.statusCode, `${key}?${q.slice(0, 40)}`).toBeLessThan(500);
      }
    }
    expect(routes.filter((r) => QUERY_ROUTES.has(`${r.method} ${r.url}`)).length).toBe(QUERY_ROUTES.size);
    // Over real HTTP a query longer than node's header limit never reaches a handler.
    const res = await fetch(`${h.url}/api/v1/revisions?limit=${'9'.repeat(100_000)}`, { headers: h.as.admin });
    expect([400, 414, 431]).toContain(res.status);
    expect((await fetch(`${h.url}/api/v1/health`)).status).toBe(200);
    expect(dumpStore(h.hub.app.hub.store)).toEqual(before);
  });

  it('refuses names and revisions in params that are not names or revisions', async () => {
    const h = await securityHub();
    const before = dumpStore(h.hub.app.hub.store);
    for (const url of [
      '/api/v1/nodes/..%2f..%2fetc/accept',
      '/api/v1/nodes/__proto__/accept',
      '/api/v1/nodes/constructor/accept',
      `/api/v1/nodes/${'a'.repeat(300)}/accept`,
      '/api/v1/nodes/good/__proto__',
      '/api/v1/nodes/%zz/accept',
      '/api/v1/nodes/%00/accept',
      '/api/v1/nodes/good%0aevil/accept',
    ]) {
      const res = await h.hub.app.inject({ method: 'POST', url, headers: h.as.operator });
      expect([400, 404, 414], `${url}: ${res.body}`).toContain(res.statusCode);
      expect(['STEMS_REQUEST_INVALID', 'STEMS_NODE_NOT_FOUND', 'STEMS_NOT_FOUND']).toContain(res.json().error.code);
    }
    expect(dumpStore(h.hub.app.hub.store)).toEqual(before);
  });
});

describe('token guessing', () => {
  it('is rate-limited per address (429) and the limit survives a hub restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stems-limiter-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    let clock = new Date('2026-03-01T12:00:00Z');
    const now = () => clock;
    let app = await hubOnDataDir(dir, now);
    const good = app.hub.store.tokens.create({ name: 'v', role: 'viewer', at: clock.toISOString(), by: 'test' });
    const status = (token: string, remoteAddress = '10.1.1.1') =>
      app.inject({ method: 'GET', url: '/api/v1/status', headers: { authorization: `Bearer ${token}` }, remoteAddress });
    for (let i = 0; i < 20; i++) expect((await status(`stems_guess${i}`)).statusCode).toBe(401);
    expect((await status(good)).statusCode).toBe(429);
    expect((await status(good)).json().error.code).toBe('STEMS_AUTH_RATE_LIMITED');
    await app.close();
    // A restart on the same data dir keeps the count: the guesser gets no fresh budget.
    app = await hubOnDataDir(dir, now);
    expect((await status(good)).statusCode).toBe(429);
    expect((await status('stems_guess_after_restart')).statusCode).toBe(429);
    expect((await status(good, '10.1.1.2')).statusCode).toBe(200);
    // After the window, the address may try again.
    clock = new Date(clock.getTime() + 61_000);
    expect((await status(good)).statusCode).toBe(200);
    await app.close();
  });
});
