import type { ApplyReport, HealthSample } from '@stems/shared';
import { describe, expect, it } from 'vitest';
import { testHub } from './_test-hub.js';
import { signBundle } from './approval/payload.js';
import { buildStatus, DEFAULT_HEALTH_INTERVAL_MS, LAST_SEEN_GRACE_MS, statusExitCode } from './status.js';

// The node state machine on a real store (SQLite file), fed the frames an
// agent sends; the hub's clock is fixed so "offline" is exact.

const NOW = new Date('2026-03-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const commit = (c: string) => c.repeat(40);

async function setup() {
  const hub = await testHub({ now: () => NOW });
  const { store } = hub.app.hub;
  store.nodes.upsert({ name: 'n1', publicKey: 'k', fingerprint: 'f', state: 'accepted', at: ago(0) });
  const bundle = (serial: number, c: string) =>
    store.transaction(() => {
      const approvalId = store.bundles.addApproval({ kind: 'approve', commit: commit(c), nodes: ['n1'], by: 't', note: '', at: ago(0) });
      const signed = signBundle(
        {
          cluster: 'colab',
          node: 'n1',
          groups: [],
          revision: { commit: commit(c), subject: c, author: 'me <me@x>' },
          policy: { onFailure: 'rollback' },
          vars: {},
          resources: [],
          files: {},
        },
        { serial, issuedAt: NOW, lifetimeSec: 3600, approval: { by: 't', at: ago(0), note: '' } },
        hub.key,
      );
      store.bundles.insert({
        node: 'n1',
        serial,
        commit: commit(c),
        approvalId,
        envelope: signed.envelope,
        issuedAt: signed.payload.issuedAt,
        expiresAt: signed.payload.expiresAt,
      });
    });
  const report = (serial: number, status: ApplyReport['status']) =>
    store.events.addReport('n1', { serial, status, startedAt: ago(0), durationMs: 1, resources: [], factsHash: 'x' }, ago(0));
  const health = (intervalMs?: number, stale = false) => {
    const sample: HealthSample = {
      at: ago(0),
      uptimeSec: 1,
      load1: 0.25,
      load5: 0,
      load15: 0,
      memUsedPct: 40,
      disks: [
        { mount: '/', usedPct: 70 },
        { mount: '/srv', usedPct: 91.5 },
      ],
      units: [],
      agentVersion: 't',
      lastApply: null,
      stale,
      ...(intervalMs ? { intervalMs } : {}),
    };
    store.events.setHealth(new Map([['n1', sample]]));
  };
  const node = () => {
    const s = buildStatus(hub.app.hub);
    return { ...s.nodes[0], exit: statusExitCode(s) };
  };
  return { store, bundle, report, health, node };
}

describe('node state (status.ts)', () => {
  it('walks pending → applying → converged → drifted → failed, keeping the last good serial, and a new apply voids old drift', async () => {
    const { store, bundle, report, node } = await setup();
    store.nodes.touch('n1', ago(0));
    expect(node()).toMatchObject({ state: 'pending', serial: 0, revision: null, exit: 0 });
    bundle(1, 'a');
    expect(node()).toMatchObject({ state: 'applying', serial: 0, exit: 0 });
    report(1, 'changed');
    expect(node()).toMatchObject({ state: 'converged', serial: 1, revision: commit('a'), drift: 0, exit: 0 });

    store.events.addDrift(
      'n1',
      { serial: 1, items: [{ id: 'file:/etc/motd', status: 'drifted', aspects: ['content'], detectedAt: ago(0), diff: '-a\n+b\n' }] },
      ago(0),
    );
    expect(node()).toMatchObject({
      state: 'drifted',
      drift: 1,
      drifted: [{ id: 'file:/etc/motd', aspects: ['content'], diff: '-a\n+b\n' }],
      exit: 1,
    });

    bundle(2, 'b');
    report(2, 'failed');
    // the failed apply of serial 2 does not hide what the node runs: serial 1, commit a
    expect(node()).toMatchObject({ state: 'failed', serial: 1, revision: commit('a'), exit: 1 });
    report(1, 'changed'); // the agent keeps enforcing its last good bundle: still failed for serial 2
    expect(node()).toMatchObject({ state: 'failed', serial: 1 });

    bundle(3, 'c');
    report(3, 'converged');
    expect(node()).toMatchObject({ state: 'converged', serial: 3, revision: commit('c'), drift: 0, drifted: [], exit: 0 });
  });

  it('is offline after 3 missed heartbeats of the node’s own period (and the write-behind grace), and online again with the next one', async () => {
    const { store, bundle, report, health, node } = await setup();
    bundle(1, 'a');
    report(1, 'converged');
    health(1000);
    store.nodes.touch('n1', ago(3000 + LAST_SEEN_GRACE_MS - 100));
    expect(node()).toMatchObject({
      state: 'converged',
      healthIntervalMs: 1000,
      health: { load1: 0.25, memUsedPct: 40, diskMaxPct: 91.5 },
    });
    store.nodes.touch('n1', ago(3000 + LAST_SEEN_GRACE_MS + 100));
    expect(node()).toMatchObject({ state: 'offline', exit: 1 });
    store.nodes.touch('n1', ago(0));
    expect(node()).toMatchObject({ state: 'converged', exit: 0 });
  });

  it('shows the node stale as its newest heartbeat says, and not stale again once it says so', async () => {
    const { bundle, report, health, node } = await setup();
    bundle(1, 'a');
    report(1, 'converged');
    expect(node()).toMatchObject({ stale: false }); // no heartbeat yet
    health(1000, true);
    expect(node()).toMatchObject({ state: 'converged', stale: true, exit: 0 });
    health(1000, false);
    expect(node()).toMatchObject({ stale: false });
  });

  it('assumes the default period for a node that never said its own', async () => {
    const { store, bundle, report, health, node } = await setup();
    bundle(1, 'a');
    report(1, 'converged');
    health();
    store.nodes.touch('n1', ago(3 * DEFAULT_HEALTH_INTERVAL_MS + LAST_SEEN_GRACE_MS - 100));
    expect(node()).toMatchObject({ state: 'converged', healthIntervalMs: DEFAULT_HEALTH_INTERVAL_MS });
    store.nodes.touch('n1', ago(3 * DEFAULT_HEALTH_INTERVAL_MS + LAST_SEEN_GRACE_MS + 100));
    expect(node()).toMatchObject({ state: 'offline' });
  });
});
