import { z } from 'zod';
import { StemsError } from './errors.js';
import { assertManagedPath, assertRepoRelativePath } from './paths.js';

/*
 * Field rules shared by the repo form (role.yaml) and the bundle form of
 * resources, and by cluster.yaml: paths, modes, names, vars, durations.
 */

/** Zod refinement that reuses the path rules, so schema and agent agree. */
function pathRefinement(check: (p: string) => string) {
  return (value: string, ctx: z.RefinementCtx) => {
    try {
      check(value);
    } catch (err) {
      if (!(err instanceof StemsError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message, params: { stemsCode: err.code } });
    }
  };
}

export const ManagedPath = z.string().superRefine(pathRefinement(assertManagedPath));
export const RepoRelativePath = z.string().min(1).superRefine(pathRefinement(assertRepoRelativePath));

const MODE_MESSAGE = 'mode must be an octal string such as "0644" (quote it in YAML: unquoted 0644 is the number 644)';
export const FileMode = z.string({ error: MODE_MESSAGE }).regex(/^0?[0-7]{3}$|^[0-7]{4}$/, MODE_MESSAGE);
export const AccountName = z.string().regex(/^([a-z_][a-z0-9_-]{0,31}\$?|\d{1,10})$/, 'must be a user/group name or a numeric id');
export const UnitName = z
  .string()
  .regex(
    /^[A-Za-z0-9:_.\\@-]{1,200}\.(service|socket|timer|target|path|mount|automount|slice|swap)$/,
    'must be a systemd unit name such as "node-exporter.service"',
  );
export const ResourceId = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[^\s]+$/, 'must not contain white space');
export const PackageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]{0,127}$/, 'must be a Debian package name');
export const DriftPolicy = z.enum(['enforce', 'report']);
export const OnFailurePolicy = z.enum(['rollback', 'stop']);
export const Argv = z.array(z.string().min(1).max(4096)).min(1).max(256);

/**
 * A record that reports an own `__proto__` key. zod drops that key silently
 * (so it cannot replace the result's prototype); for repo data silence would
 * hide a mistake or an attack, so it becomes an issue on that key.
 */
export function protoSafeRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V) {
  const guard = z.unknown().superRefine((input, ctx) => {
    if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
      ctx.addIssue({ code: 'custom', path: ['__proto__'], message: 'reserved name "__proto__"', params: { atKey: true } });
    }
  });
  return guard.pipe(z.record(key, value));
}

/** Vars are free-form data: keys are checked so that no one smuggles `__proto__`. */
const VarKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'variable names are letters, digits, "_" and "-"')
  .refine((k) => k !== '__proto__' && k !== 'constructor' && k !== 'prototype', 'reserved name');
export const Vars = protoSafeRecord(VarKey, z.unknown());
export type Vars = z.infer<typeof Vars>;

export const ResourcePolicy = z.strictObject({ drift: DriftPolicy.optional() });

/**
 * A timeout in the repo: a number of seconds or a duration string ("30s", "2m").
 * It is compiled to milliseconds in the bundle.
 */
const DURATION = /^(\d+)(ms|s|m|h)$/;
const DURATION_TEXT = /^\d+(ms|s|m|h)$/;
export const Duration = z.union([
  z.number().positive().max(86_400),
  z
    .string()
    .regex(DURATION_TEXT, 'a duration such as "30s", "2m" or "500ms"')
    // same bounds as the number form, so every repo duration compiles to a valid timeoutMs
    .refine((v) => !DURATION.test(v) || (durationMs(v) > 0 && durationMs(v) <= 86_400_000), 'a duration above 0 and at most 24h'),
]);
/** A repo duration in milliseconds: seconds as a number, or "500ms" / "30s" / "2m" / "1h". */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return Math.round(value * 1000);
  const match = DURATION.exec(value);
  if (!match) throw new RangeError(`not a duration: ${value}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}
