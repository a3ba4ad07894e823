import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { healthSample } from '../_test-fixtures.js';
import { openDatabase, schemaVersion } from './db.js';
import { HEALTH_TRIM_EVERY } from './events.js';
import { openStore } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { ACCESS_RECHECK_MS } from './nodes.js';

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stems-store-'));
  dirs.push(dir);
  return join(dir, 'hub.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const at = '2026-01-01T00:00:00.000Z';
const rev = (commit: string, state: 'valid' | 'invalid' = 'valid') => ({
  commit,
  subject: `s ${commit.slice(0, 4)}`,
  author: 'a',
  committedAt: at,
  state,
  problems: [],
  cluster: 'colab',
  fetchedAt: at,
});

describe('migrations', () => {
  it('creates every table on a fresh file, records the version, and is idempotent on reopen', () => {
    const path = tempDb();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
    db.close();
    const again = openDatabase(path);
    const tables = again
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['nodes', 'revisions', 'bundles', 'approvals', 'tokens', 'join_tokens', 'audit_log']));
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    again.close();
  });

  it('migration 3 moves last_seen into node_seen: a node keeps when it was last seen, and touch updates it there', () => {
    const path = tempDb();
    openDatabase(
      path,
      MIGRATIONS.filter((m) => m.version <= 2),
    ).close();
    const v2 = new Database(path);
    v2.prepare(
      "INSERT INTO nodes (name, public_key, fingerprint, state, created_at, last_seen) VALUES ('n1', 'k', 'f', 'accepted', ?, '2026-01-02T00:00:00.000Z')",
    ).run(at);
    v2.prepare("INSERT INTO nodes (name, public_key, fingerprint, state, created_at) VALUES ('n2', 'k', 'f', 'pending', ?)").run(at);
    v2.close();
    const store = openStore(path);
    expect(schemaVersion(store.db)).toBe(3);
    expect(store.nodes.get('n1')?.lastSeen).toBe('2026-01-02T00:00:00.000Z');
    expect(store.nodes.get('n2')?.lastSeen).toBeNull();
    store.nodes.touch('n1', '2026-01-03T00:00:00.000Z');
    store.nodes.upsert({ name: 'n2', publicKey: 'k2', fingerprint: 'f2', state: 'accepted', at: '2026-01-04T00:00:00.000Z' });
    expect(store.nodes.list().map((n) => [n.name, n.lastSeen])).toEqual([
      ['n1', '2026-01-03T00:00:00.000Z'],
      ['n2', '2026-01-04T00:00:00.000Z'],
    ]);
    const columns = store.db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('nodes')")
      .all()
      .map((c) => c.name);
    expect(columns).not.toContain('last_seen');
    store.close();
  });

  it('a failing migration leaves the schema at the previous version', () => {
    const path = tempDb();
    openDatabase(path).close();
    const broken = [...MIGRATIONS, { version: 99, sql: 'CREATE TABLE extra (x INTEGER); CREATE TABLE nodes (x INTEGER);' }];
    expect(() => openDatabase(path, broken)).toThrow(/already exists/);
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").get()).toBeUndefined();
    db.close();
  });
});

describe('store', () => {
  it('a transaction whose second insert fails leaves nothing behind', () => {
    const store = openStore(tempDb());
    store.revisions.insert([rev('a'.repeat(40))]);
    expect(() =>
      store.transaction(() => {
        const id = store.bundles.addApproval({ kind: 'approve', commit: 'a'.repeat(40), nodes: ['n1'], by: 'x', note: '', at });
        store.bundles.insert({
          node: 'n1',
          serial: 1,
          commit: 'a'.repeat(40),
          approvalId: id,
          envelope: '{}',
          issuedAt: at,
          expiresAt: at,
        });
        store.bundles.insert({
          node: 'n1',
          serial: 1,
          commit: 'a'.repeat(40),
          approvalId: id,
          envelope: '{}',
          issuedAt: at,
          expiresAt: at,
        });
      }),
    ).toThrow(/UNIQUE/);
    expect(store.bundles.latest('n1')).toBeUndefined();
    expect(store.bundles.approvals()).toEqual([]);
    store.close();
  });

  it('resolves full ids, unique prefixes and latest, and refuses ambiguous prefixes', () => {
    const store = openStore(tempDb());
    store.revisions.insert([rev(`abc1${'0'.repeat(36)}`), rev(`abc2${'0'.repeat(36)}`), rev(`def0${'0'.repeat(36)}`, 'invalid')]);
    expect(store.revisions.resolve('abc1').commit).toBe(`abc1${'0'.repeat(36)}`);
    expect(store.revisions.resolve('latest').commit).toBe(`abc2${'0'.repeat(36)}`);
    expect(() => store.revisions.resolve('abc')).toThrow(expect.objectContaining({ code: 'STEMS_REVISION_NOT_FOUND' }));
    expect(() => store.revisions.resolve('abc0')).toThrow(expect.objectContaining({ code: 'STEMS_REVISION_NOT_FOUND' }));
    store.revisions.insert([rev(`abcd${'1'.repeat(36)}`), rev(`abcd${'2'.repeat(36)}`)]);
    expect(() => store.revisions.resolve('abcd')).toThrow(expect.objectContaining({ code: 'STEMS_REVISION_AMBIGUOUS' }));
    expect(store.revisions.list().map((r) => r.commit.slice(0, 4))).toEqual(['abcd', 'abcd', 'def0', 'abc2', 'abc1']);
    store.close();
  });

  it('the audit log refuses updates and deletes', () => {
    const store = openStore(tempDb());
    store.audit.append({ at, actor: 'local', action: 'token.create', target: 't1', details: {} });
    expect(() => store.db.prepare("UPDATE audit_log SET actor = 'x'").run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    expect(store.audit.list()).toHaveLength(1);
    store.close();
  });

  it('join tokens work once and not after expiry; health keeps a bounded ring', () => {
    const store = openStore(tempDb());
    const live = store.tokens.createJoin({ at, expiresAt: '2026-01-01T01:00:00.000Z', by: 'local' });
    const old = store.tokens.createJoin({ at, expiresAt: '2026-01-01T00:00:01.000Z', by: 'local' });
    expect(store.tokens.consumeJoin(live, 'n1', '2026-01-01T00:30:00.000Z')).toBe(true);
    expect(store.tokens.consumeJoin(live, 'n2', '2026-01-01T00:31:00.000Z')).toBe(false);
    expect(store.tokens.consumeJoin(old, 'n2', '2026-01-01T00:30:00.000Z')).toBe(false);
    const sample = (i: number) => healthSample(i, new Date(Date.parse(at) + i * 1000).toISOString());
    // Reads give the newest 100; a node's rows are trimmed at every HEALTH_TRIM_EVERY of its samples.
    const rows = (node: string) => store.events.health(node, 1000).length;
    const newest = (node: string) => store.events.health(node).map((h) => h.uptimeSec);
    const countdown = (from: number, n: number) => Array.from({ length: n }, (_, i) => from - i);
    for (let i = 0; i < 120; i++) store.events.addHealth([{ node: 'n1', sample: sample(i) }]);
    expect(rows('n1')).toBe(100);
    expect(newest('n1')).toEqual(countdown(119, 100));
    // One batch of two nodes, as the hub's write-behind stores them: each ring is counted on its own.
    store.events.addHealth([
      ...Array.from({ length: HEALTH_TRIM_EVERY - 1 }, (_, i) => ({ node: 'n1', sample: sample(120 + i) })),
      ...Array.from({ length: 3 }, (_, i) => ({ node: 'n2', sample: sample(i) })),
    ]);
    expect(rows('n1')).toBe(100 + HEALTH_TRIM_EVERY - 1);
    expect(newest('n1')).toEqual(countdown(138, 100));
    store.events.addHealth([{ node: 'n1', sample: sample(139) }]);
    expect(rows('n1')).toBe(100);
    expect(newest('n2')).toEqual([2, 1, 0]);
    store.close();
  });
});

describe('node access', () => {
  const node = (name: string, state: 'accepted' | 'pending') => ({ name, publicKey: `ed25519:${name}`, fingerprint: name, state, at });

  it('a change through this store shows at once; one by another connection within ACCESS_RECHECK_MS', async () => {
    const path = tempDb();
    const hub = openStore(path);
    hub.nodes.upsert(node('a', 'accepted'));
    hub.nodes.upsert(node('b', 'pending'));
    expect(hub.nodes.access('a')?.state).toBe('accepted'); // now remembered
    hub.nodes.setState('a', 'revoked');
    expect(hub.nodes.access('a')?.state).toBe('revoked');
    hub.nodes.setState('a', 'accepted');
    expect(hub.nodes.access('a')?.state).toBe('accepted');

    const cli = openStore(path); // a `hub nodes …` command on the same data dir
    cli.nodes.setState('a', 'revoked');
    cli.nodes.setState('b', 'accepted');
    // A pending row is never remembered: its acceptance shows at once.
    expect(hub.nodes.access('b')?.state).toBe('accepted');
    await new Promise((r) => setTimeout(r, ACCESS_RECHECK_MS + 100));
    expect(hub.nodes.access('a')?.state).toBe('revoked');
    cli.close();
    hub.close();
  });
});
