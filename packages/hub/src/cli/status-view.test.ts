import { describe, expect, it } from 'vitest';
import type { HubStatus } from '../status.js';
import { parseDurationMs, renderStatus } from './status-view.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const status: HubStatus = {
  cluster: 'lab',
  branch: 'main',
  latestRevision: { commit: 'c'.repeat(40), subject: 'add motd' },
  pendingRevisions: 2,
  nodes: [
    {
      name: 'alpha',
      state: 'converged',
      serial: 3,
      revision: 'c'.repeat(40),
      drift: 0,
      health: { load1: 0.123, memUsedPct: 41.4, diskMaxPct: 63.6 },
      lastSeen: new Date(NOW - 2000).toISOString(),
      drifted: [],
      healthIntervalMs: 15_000,
      stale: false,
    },
    {
      name: 'projector',
      state: 'drifted',
      serial: 2,
      revision: null,
      drift: 1,
      health: null,
      lastSeen: null,
      drifted: [{ id: 'file:/etc/app.conf', aspects: ['content', 'mode'], detectedAt: new Date(NOW - 40_000).toISOString() }],
      healthIntervalMs: 15_000,
      stale: false,
    },
  ],
};

describe('hub status (human)', () => {
  it('prints the header, one aligned row per node and the drifted resources, without colour off a TTY', () => {
    const text = renderStatus(status, { colour: false, now: NOW });
    expect(text).toBe(
      [
        'cluster lab  branch main',
        'revision cccccccccccc add motd  (2 awaiting approval)',
        '',
        'NODE       STATE      SERIAL  REVISION      DRIFT  HEALTH (load / mem / disk)  LAST SEEN',
        'alpha      converged  3       cccccccccccc  0      0.12 / 41% / 64%            2s ago',
        'projector  drifted    2       -             1      -                           never',
        '',
        'drifted:',
        '  projector  file:/etc/app.conf  (content, mode, since 40s ago)',
      ].join('\n'),
    );
  });

  it('colours only the STATE cell and keeps the columns where they were', () => {
    const plain = renderStatus(status, { colour: false, now: NOW }).split('\n');
    const coloured = renderStatus(status, { colour: true, now: NOW }).split('\n');
    expect(coloured[4]).toBe(plain[4]?.replace('converged', '\u001b[32mconverged\u001b[39m'));
    expect(coloured[5]).toBe(plain[5]?.replace('drifted', '\u001b[35mdrifted\u001b[39m'));
    expect(coloured[3]).toBe(plain[3]);
  });

  it('lists the nodes whose bundle has expired (stale) after the table', () => {
    const stale: HubStatus = { ...status, nodes: status.nodes.map((n) => (n.name === 'alpha' ? { ...n, stale: true } : n)) };
    const text = renderStatus(stale, { colour: false, now: NOW });
    expect(text.endsWith(['', 'stale (bundle expired; still enforced until the hub renews it):', '  alpha'].join('\n'))).toBe(true);
    expect(renderStatus(status, { colour: false, now: NOW })).not.toContain('stale');
  });

  it('reads watch intervals with a unit', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('2s')).toBe(2000);
    expect(parseDurationMs('1m')).toBe(60_000);
    expect(parseDurationMs('2')).toBeUndefined();
    expect(parseDurationMs('soon')).toBeUndefined();
  });
});
