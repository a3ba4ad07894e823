import { ClusterName, NodeName } from '@stems/shared';
import { z } from 'zod';

/** Where things live on a real node when nothing moves them (DESIGN §8). */
export const DEFAULT_CONFIG_PATH = '/etc/stems/agent.yaml';

/** Every default in one place (STYLE 8). Interval names carry their unit. */
export const AGENT_DEFAULTS = Object.freeze({
  paths: Object.freeze({ state: '/var/lib/stems-agent', root: '/', factsDir: '/etc/stems/facts.d' }),
  intervals: Object.freeze({
    /** Safety-net `bundle.get` while connected. @default 300000 (5 min) */
    pollMs: 300_000,
    /** Re-gather facts this often; one-shot commands trust a cache younger than this. @default 3600000 (1 h) */
    factsRefreshMs: 3_600_000,
    /** Health sample period. @default 15000 */
    healthMs: 15_000,
    /**
     * Full drift re-check (and enforcement) of the last good bundle, for what
     * the file watcher cannot see (units stopped by hand, deleted parents). @default 300000 (5 min)
     */
    driftMs: 300_000,
    /** Quiet time that ends a burst of file events: an editor's write-rename-chmod is one drift. @default 150 */
    driftDebounceMs: 150,
    /** Reconnect backoff floor. @default 1000 */
    backoffMinMs: 1_000,
    /** Reconnect backoff cap. @default 60000 */
    backoffMaxMs: 60_000,
    /** A connection open this long resets the backoff. @default 30000 */
    stableMs: 30_000,
    /** Client-side ping; a missed pong by the next ping terminates the socket. @default 30000 */
    pingMs: 30_000,
  }),
});

const Interval = z
  .number()
  .int()
  .positive()
  .max(7 * 24 * 3_600_000);
const AbsPath = z.string().min(1).startsWith('/', 'must be an absolute path');

/** The agent.yaml file as written on disk. Unknown keys are errors: a typo must not be silently ignored. */
export const AgentConfigFile = z.strictObject({
  hub: z.strictObject({
    /** The hub's http(s) base URL, e.g. http://hub:7400. */
    url: z.string().min(1),
    /** The pinned hub public key, `ed25519:<base64>` as `hub key` prints it. */
    key: z.string().min(1),
  }),
  node: NodeName,
  /** Learned from the hub's welcome when absent; once known it is pinned. */
  cluster: ClusterName.optional(),
  paths: z
    .strictObject({
      state: AbsPath.optional(),
      root: AbsPath.optional(),
      factsDir: AbsPath.optional(),
    })
    .optional(),
  intervals: z
    .strictObject({
      pollMs: Interval.optional(),
      factsRefreshMs: Interval.optional(),
      healthMs: Interval.optional(),
      driftMs: Interval.optional(),
      driftDebounceMs: Interval.max(10_000).optional(),
      backoffMinMs: Interval.optional(),
      backoffMaxMs: Interval.optional(),
      stableMs: Interval.optional(),
      pingMs: Interval.optional(),
    })
    .optional(),
});
export type AgentConfigFile = z.infer<typeof AgentConfigFile>;

export type Intervals = { readonly [K in keyof typeof AGENT_DEFAULTS.intervals]: number };

/** The normalized, frozen config every other module receives. */
export interface AgentConfig {
  readonly configPath: string;
  /** http(s) base, no trailing slash. */
  readonly hubUrl: string;
  /** ws(s)://host[:port][/base]/api/v1/agent */
  readonly wsUrl: string;
  /** Pinned hub key, `ed25519:<base64>`. */
  readonly hubKey: string;
  readonly node: string;
  readonly cluster: string | undefined;
  readonly paths: { readonly state: string; readonly root: string; readonly factsDir: string };
  readonly intervals: Intervals;
}
