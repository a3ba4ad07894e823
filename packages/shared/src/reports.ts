import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.js';

const ErrorCodeSchema = z.custom<ErrorCode>((v) => typeof v === 'string' && Object.hasOwn(ERROR_CODES, v), 'unknown error code');
export const WireError = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string().max(4096),
  hint: z.string().max(4096).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type WireError = z.infer<typeof WireError>;

const IsoTime = z.iso.datetime({ offset: true });

export const ResourceOutcome = z.enum(['unchanged', 'changed', 'failed', 'skipped', 'rolled_back']);
export type ResourceOutcome = z.infer<typeof ResourceOutcome>;

export const ResourceReport = z.strictObject({
  id: z.string().max(512),
  outcome: ResourceOutcome,
  /** What changed, in words: "content", "mode 0600 → 0644", "created". */
  changes: z.array(z.string().max(512)).max(32),
  /** Unified diff of rendered text, truncated; absent for sensitive files. */
  diff: z
    .string()
    .max(64 * 1024)
    .optional(),
  durationMs: z.number().nonnegative(),
  error: WireError.optional(),
});
export type ResourceReport = z.infer<typeof ResourceReport>;

export const ApplyStatus = z.enum(['converged', 'changed', 'failed', 'rolled_back', 'rejected']);
export type ApplyStatus = z.infer<typeof ApplyStatus>;

/** One apply (or one rejected bundle), sent agent → hub. */
export const ApplyReport = z.strictObject({
  serial: z.number().int().nonnegative(),
  commit: z.string().max(64).optional(),
  status: ApplyStatus,
  startedAt: IsoTime,
  durationMs: z.number().nonnegative(),
  resources: z.array(ResourceReport).max(10_000),
  factsHash: z.string().max(128),
  error: WireError.optional(),
});
export type ApplyReport = z.infer<typeof ApplyReport>;

export const DriftAspect = z.enum([
  'content',
  'mode',
  'owner',
  'group',
  'exists',
  'type',
  'target',
  'unit-state',
  'unit-enabled',
  'package',
]);
export type DriftAspect = z.infer<typeof DriftAspect>;

export const DriftItem = z.strictObject({
  id: z.string().max(512),
  /** drifted: differs now; repaired: enforce put it back; cleared: it matches again by itself. */
  status: z.enum(['drifted', 'repaired', 'cleared']),
  aspects: z.array(DriftAspect).max(16),
  diff: z
    .string()
    .max(64 * 1024)
    .optional(),
  detectedAt: IsoTime,
  clearedAt: IsoTime.optional(),
});
export type DriftItem = z.infer<typeof DriftItem>;

export const DriftReport = z.strictObject({
  serial: z.number().int().nonnegative(),
  items: z.array(DriftItem).max(10_000),
});
export type DriftReport = z.infer<typeof DriftReport>;

export const HealthSample = z.strictObject({
  at: IsoTime,
  uptimeSec: z.number().nonnegative(),
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
  memUsedPct: z.number().min(0).max(100),
  disks: z.array(z.strictObject({ mount: z.string().max(4096), usedPct: z.number().min(0).max(100) })).max(256),
  units: z.array(z.strictObject({ name: z.string().max(256), active: z.string().max(64) })).max(1024),
  agentVersion: z.string().max(64),
  lastApply: z.strictObject({ serial: z.number().int().nonnegative(), status: ApplyStatus, at: IsoTime }).nullable(),
  /** The last good bundle has expired and the hub has not sent a newer one. */
  stale: z.boolean(),
  /**
   * The agent's health period: the hub counts a node offline after three
   * missed samples. Optional: older agents do not send it.
   */
  intervalMs: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3_600_000)
    .optional(),
});
export type HealthSample = z.infer<typeof HealthSample>;
