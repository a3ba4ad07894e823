import { type Logger, pino } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear (tokens, keys, repo credentials). */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'joinToken',
  '*.joinToken',
  'password',
  '*.password',
  '*.*.password',
  'secretKey',
  '*.secretKey',
  'privateKey',
  '*.privateKey',
  'req.headers.authorization',
  'req.headers["x-stems-signature"]',
  'headers.authorization',
];

export interface LoggerOptions {
  /** @default 'info' */
  level?: string;
  /** Where JSON lines go. @default stdout */
  destination?: NodeJS.WritableStream;
}

/** The hub's one root logger: JSON lines, secrets redacted. Modules take children of it. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', base: { svc: 'stems-hub' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
