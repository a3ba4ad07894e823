import { StemsError } from '@stems/shared';
import pino, { type DestinationStream, type Logger } from 'pino';
import { type ConfigOverrides, loadAgentConfig } from '../config/load.js';
import { type AgentConfig, DEFAULT_CONFIG_PATH } from '../config/schema.js';
import type { SelfCommand } from '../facts/child.js';
import { agentVersion } from './version.js';

/** Flags every command takes; each also has an environment variable. */
export interface GlobalFlags {
  config?: string | undefined;
  state?: string | undefined;
  root?: string | undefined;
}

/** What the CLI layer resolved from flags and environment; nothing below it reads process.env. */
export interface CliContext {
  configPath: string;
  overrides: ConfigOverrides;
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  agentVersion: string;
  /** Writes human output (stdout). */
  isTTY: boolean;
  /** How to start this CLI again (CliIO.self). */
  self?: SelfCommand | undefined;
}

export const GLOBAL_OPTIONS = {
  config: { type: 'string' },
  state: { type: 'string' },
  root: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** Secrets never reach a log line (STYLE 9). */
export const REDACT_PATHS = [
  'token',
  'joinToken',
  'secretKey',
  'privateKey',
  '*.token',
  '*.joinToken',
  '*.secretKey',
  '*.privateKey',
  '*.*.secretKey',
];

export function makeLogger(opts: { level: string; toStderr: boolean; destination?: DestinationStream }): Logger {
  return pino(
    { level: opts.level, base: { name: 'stems-agent' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    opts.destination ?? pino.destination({ fd: opts.toStderr ? 2 : 1, sync: true }),
  );
}

export function usage(message: string, hint = 'See `stems-agent --help`.'): StemsError {
  return new StemsError('STEMS_CLI_USAGE', message, { hint });
}

export function resolveContext(flags: GlobalFlags, env: Record<string, string | undefined>, daemon: boolean): CliContext {
  const level = env.STEMS_LOG_LEVEL ?? (daemon ? 'info' : 'warn');
  return {
    configPath: flags.config ?? env.STEMS_AGENT_CONFIG ?? DEFAULT_CONFIG_PATH,
    overrides: { stateDir: flags.state ?? env.STEMS_AGENT_STATE, rootDir: flags.root ?? env.STEMS_AGENT_ROOT },
    env,
    // One-shot commands print results on stdout, so their logs go to stderr.
    log: makeLogger({ level, toStderr: !daemon }),
    agentVersion: agentVersion(),
    isTTY: process.stdout.isTTY === true,
  };
}

export async function loadConfig(ctx: CliContext): Promise<AgentConfig> {
  const { config, warnings } = await loadAgentConfig(ctx.configPath, ctx.overrides);
  for (const warning of warnings) ctx.log.warn({ configPath: ctx.configPath, warning }, 'agent config warning');
  return config;
}
