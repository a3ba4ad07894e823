import type { ParseArgsConfig } from 'node:util';
import { StemsError } from '@stems/shared';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What every command gets: parsed flags, positionals and the process environment. */
export interface CommandInput {
  values: Values;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  /** Where `hub serve` logs go (stdout). */
  stdout: NodeJS.WritableStream;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop when it fires. */
  signal: AbortSignal;
}

/** A CLI command: run returns data; render turns it into human text. main prints one or the other. */
export interface Command<T> {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Accepted positional counts. */
  positionals: { min: number; max: number };
  run(input: CommandInput): Promise<T>;
  render(data: T, input: CommandInput): string;
  /** Exit code for data that ran fine but reports trouble (`hub status`: a node failed). @default 0 */
  exitCode?(data: T): number;
  /** The command printed its output itself while it ran (`--watch`): main prints nothing more. */
  streamed?(input: CommandInput): boolean;
}

/** Erases the data type so commands of different types sit in one table. */
export interface AnyCommand {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  positionals: { min: number; max: number };
  execute(input: CommandInput): Promise<{ data: unknown; human: string; exitCode: number; streamed: boolean }>;
}

export function defineCommand<T>(c: Command<T>): AnyCommand {
  return {
    name: c.name,
    summary: c.summary,
    usage: c.usage,
    options: c.options,
    positionals: c.positionals,
    execute: async (input) => {
      const data = await c.run(input);
      const streamed = c.streamed?.(input) ?? false;
      return { data, human: streamed ? '' : c.render(data, input), exitCode: c.exitCode?.(data) ?? 0, streamed };
    },
  };
}

export function usageError(message: string, hint = 'Run the command with --help.'): StemsError {
  return new StemsError('STEMS_CLI_USAGE', message, { hint });
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** `a,b` → ['a', 'b'] */
export function list(values: Values, name: string): string[] | undefined {
  const v = str(values, name);
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

/** `90s`, `15m`, `1h`, `2d` → seconds. */
export function parseSeconds(text: string, flag: string): number {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw usageError(`${flag} must be a duration like 90s, 15m, 1h or 2d; got "${text}"`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** Options every client command takes. */
export const CLIENT_OPTIONS: OptionSpec = {
  hub: { type: 'string' },
  token: { type: 'string' },
  data: { type: 'string' },
};

export const CLIENT_USAGE = `Connection:
  --hub URL       hub base URL (env STEMS_HUB_URL), e.g. http://hub:7400
  --token T       API token (env STEMS_TOKEN)
  --data DIR      hub data dir when run on the hub host without --hub
                  (env STEMS_HUB_DATA, default /var/lib/stems-hub)
With no token and no hub data dir, an enrolled node signs read-only requests
with its node key (agent config: env STEMS_AGENT_CONFIG, default
/etc/stems/agent.yaml; node key in STEMS_AGENT_STATE or its paths.state).`;
