import { parseArgs } from 'node:util';
import { isStemsError } from '@stems/shared';
import { type AnyCommand, type OptionSpec, usageError } from './command.js';
import { approveCommand, rollbackCommand } from './commands/approve.js';
import { diffCommand } from './commands/diff.js';
import { initCommand } from './commands/init.js';
import { keyCommand } from './commands/key.js';
import { joinTokenCommand, nodesCommand, syncCommand, tokenCommand } from './commands/nodes.js';
import { revisionsCommand } from './commands/revisions.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { hubVersion } from './version.js';

export const COMMANDS: readonly AnyCommand[] = [
  initCommand,
  serveCommand,
  keyCommand,
  statusCommand,
  revisionsCommand,
  diffCommand,
  approveCommand,
  rollbackCommand,
  nodesCommand,
  tokenCommand,
  joinTokenCommand,
  syncCommand,
];

/** Commands that print no data, so they take no --json. */
const NO_JSON = new Set(['serve']);

export function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `hub — the stems hub: git sync, approval, signing, API

Usage: hub <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --help. --json prints data as JSON.
Exit codes: 0 ok, 1 failed, 2 usage error.
Environment: STEMS_HUB_DATA, STEMS_HUB_URL, STEMS_TOKEN.`;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Runs one CLI invocation and returns its exit code; the one place errors become messages. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const out = (text: string) => {
    if (text) io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const err = (text: string) => io.stderr.write(`${text}\n`);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(mainUsage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    out(hubVersion());
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`hub: unknown command "${name}"\nRun \`hub --help\` for the list of commands.`);
    return EXIT.usage;
  }
  let json = false;
  try {
    const options: OptionSpec = { ...command.options, help: { type: 'boolean', short: 'h' } };
    if (!NO_JSON.has(name)) options.json = { type: 'boolean' };
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    } catch (e) {
      throw usageError(e instanceof Error ? e.message : String(e), `Run \`hub ${name} --help\`.`);
    }
    if (parsed.values.help) {
      out(command.usage);
      return EXIT.ok;
    }
    json = parsed.values.json === true;
    const { min, max } = command.positionals;
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw usageError(
        `hub ${name} takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${parsed.positionals.length}`,
        `Run \`hub ${name} --help\`.`,
      );
    }
    const result = await command.execute({
      values: parsed.values,
      positionals: parsed.positionals,
      env: io.env,
      stdout: io.stdout,
      signal: io.signal,
    });
    if (!result.streamed) out(json ? JSON.stringify(result.data, null, 2) : result.human);
    return result.exitCode;
  } catch (e) {
    if (isStemsError(e)) {
      if (json) err(JSON.stringify({ error: e.toJSON() }));
      else err(`hub ${name}: ${e.code}: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`);
      return e.code === 'STEMS_CLI_USAGE' ? EXIT.usage : EXIT.failed;
    }
    err(`hub ${name}: internal error, please report: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.failed;
  }
}
