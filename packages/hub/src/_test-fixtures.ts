import type { HealthSample } from '@stems/shared';

/** A cluster of two nodes, n1 and n2, both in group `all` with role `base`. */
export const TWO_NODE_CLUSTER = `apiVersion: stems/v1
cluster: colab
vars: { greeting: hello }
nodes:
  n1: {}
  n2: {}
groups:
  all: { roles: [base] }
`;

/** A health sample of an idle node; `uptimeSec` tells samples apart. */
export const healthSample = (uptimeSec: number, at = '2026-01-01T00:00:01.000Z'): HealthSample => ({
  at,
  uptimeSec,
  load1: 0,
  load5: 0,
  load15: 0,
  memUsedPct: 1,
  disks: [],
  units: [],
  agentVersion: 't',
  lastApply: null,
  stale: false,
});
