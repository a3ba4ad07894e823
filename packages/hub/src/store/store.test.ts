import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { healthSample } from '../_test-fixtures.js';
import { openDatabase, schemaVersion } from './db.js';
import { openStore } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { ACCESS_RECHECK_MS } from './nodes.js';

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stems-store-'));
  dirs.push(dir);
  return join(dir, 'hub.db');
}
/** A database file migrated up to `version` only, as an older hub left it. */
function migratedTo(version: number): string {
  const path = tempDb();
  openDatabase(
    path,
    MIGRATIONS.filter((m) => m.version <= version),
  ).close();
  return path;
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
    const path = migratedTo(2);
    const v2 = new Database(path);
    v2.prepare(
      "INSERT INTO nodes (name, public_key, fingerprint, state, created_at, last_seen) VALUES ('n1', 'k', 'f', 'accepted', ?, '2026-01-02T00:00:00.000Z')",
    ).run(at);
    v2.prepare("INSERT INTO nodes (name, public_key, fingerprint, state, created_at) VALUES ('n2', 'k', 'f', 'pending', ?)").run(at);
    v2.close();
    const store = openStore(path);
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.at(-1)?.version);
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

  it('migration 4 keeps only the newest health sample of each node and drops the ring', () => {
    const path = migratedTo(3);
    const v3 = new Database(path);
    for (const name of ['n1', 'n2'])
      v3.prepare("INSERT INTO nodes (name, public_key, fingerprint, state, created_at) VALUES (?, 'k', 'f', 'accepted', ?)").run(name, at);
    const addSample = v3.prepare('INSERT INTO health_samples (node, at, body) VALUES (?, ?, ?)');
    // n1's samples 1..3 interleaved with n2's 10; 'gone' is no longer a node.
    for (const [node, uptime] of [
      ['n1', 1],
      ['n2', 10],
      ['n1', 2],
      ['gone', 7],
      ['n1', 3],
    ] as const)
      addSample.run(node, at, JSON.stringify(healthSample(uptime)));
    v3.close();
    const store = openStore(path);
    expect(store.events.latestHealth('n1')?.uptimeSec).toBe(3);
    expect(store.events.latestHealth('n2')?.uptimeSec).toBe(10);
    expect(store.events.latestHealth('gone')).toBeUndefined();
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'health_samples'").get()).toBeUndefined();
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

  it('join tokens work once and not after expiry', () => {
    const store = openStore(tempDb());
    const live = store.tokens.createJoin({ at, expiresAt: '2026-01-01T01:00:00.000Z', by: 'local' });
    const old = store.tokens.createJoin({ at, expiresAt: '2026-01-01T00:00:01.000Z', by: 'local' });
    expect(store.tokens.consumeJoin(live, 'n1', '2026-01-01T00:30:00.000Z')).toBe(true);
    expect(store.tokens.consumeJoin(live, 'n2', '2026-01-01T00:31:00.000Z')).toBe(false);
    expect(store.tokens.consumeJoin(old, 'n2', '2026-01-01T00:30:00.000Z')).toBe(false);
    store.close();
  });

  it('health keeps the newest sample of each node, replacing the one before', () => {
    const store = openStore(tempDb());
    for (const name of ['n1', 'n2']) store.nodes.upsert({ name, publicKey: `ed25519:${name}`, fingerprint: name, state: 'accepted', at });
    expect(store.events.latestHealth('n1')).toBeUndefined();
    store.events.setHealth(new Map([['n1', healthSample(1)]]));
    store.events.setHealth(
      new Map([
        ['n1', healthSample(2)],
        ['n2', healthSample(5)],
      ]),
    );
    expect(store.events.latestHealth('n1')).toEqual(healthSample(2));
    expect(store.events.latestHealth('n2')?.uptimeSec).toBe(5);
    expect(store.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM node_health').get()?.n).toBe(2);
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
