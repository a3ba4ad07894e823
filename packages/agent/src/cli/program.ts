import { parseArgs } from 'node:util';
import { isStemsError, StemsError, toStemsError } from '@stems/shared';
import type { SelfCommand } from '../facts/child.js';
import { type CliContext, GLOBAL_OPTIONS, resolveContext, usage } from './context.js';
import { formatEnroll, formatError, formatFacts, formatPlan, formatReport, paint } from './format.js';
import { HELP } from './help.js';
import { agentVersion } from './version.js';

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  isTTY: boolean;
  /** How to start this CLI again, for the daemon's facts child process; without it the daemon gathers facts itself. */
  self?: SelfCommand;
}

const COMMAND_OPTIONS = {
  enroll: {
    hub: { type: 'string' },
    'hub-key': { type: 'string' },
    token: { type: 'string' },
    name: { type: 'string' },
    offline: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  run: {},
  plan: { json: { type: 'boolean' } },
  apply: { once: { type: 'boolean' }, json: { type: 'boolean' } },
  facts: { json: { type: 'boolean' }, refresh: { type: 'boolean' } },
} as const;
type Command = keyof typeof COMMAND_OPTIONS;

const isCommand = (s: string | undefined): s is Command => s !== undefined && Object.hasOwn(COMMAND_OPTIONS, s);

function parse(command: Command, args: string[]) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[command] }, strict: true, allowPositionals: false });
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err), `See \`stems-agent ${command} --help\`.`);
  }
}

const flag = (values: Record<string, unknown>, name: string): boolean => values[name] === true;
const text = (values: Record<string, unknown>, name: string): string | undefined => {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
};

/** Runs one command; commands return data, this prints it. Resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const p = paint(io.isTTY && io.env.NO_COLOR === undefined);
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.stdout(`${HELP['']}\n`);
      return first === undefined ? 2 : 0;
    }
    if (first === '--version') {
      io.stdout(`${agentVersion()}\n`);
      return 0;
    }
    if (!isCommand(first)) throw usage(`Unknown command ${JSON.stringify(first)}`);
    const { values } = parse(first, rest);
    if (flag(values, 'help')) {
      io.stdout(`${HELP[first]}\n`);
      return 0;
    }
    if (flag(values, 'version')) {
      io.stdout(`${agentVersion()}\n`);
      return 0;
    }
    const ctx: CliContext = {
      ...resolveContext(
        { config: text(values, 'config'), state: text(values, 'state'), root: text(values, 'root') },
        io.env,
        first === 'run',
      ),
      isTTY: io.isTTY,
      self: io.self,
    };
    const json = flag(values, 'json');
    const out = (data: unknown, human: () => string) => io.stdout(json ? `${JSON.stringify(data, null, 2)}\n` : human());
    switch (first) {
      case 'enroll': {
        const hubUrl = text(values, 'hub') ?? io.env.STEMS_HUB_URL;
        const hubKey = text(values, 'hub-key');
        if (!hubUrl || !hubKey) throw usage('enroll needs --hub URL and --hub-key KEY', 'Get the key on the hub with `hub key`.');
        const { enroll } = await import('../identity/enroll.js');
        const result = await enroll({
          hubUrl,
          hubKey,
          joinToken: text(values, 'token'),
          name: text(values, 'name'),
          configPath: ctx.configPath,
          stateDir: ctx.overrides.stateDir,
          rootDir: ctx.overrides.rootDir,
          connect: !flag(values, 'offline'),
          agentVersion: ctx.agentVersion,
          log: ctx.log,
        });
        out(result, () => formatEnroll(result, p));
        return result.hub.status === 'refused' ? 1 : 0;
      }
      case 'run': {
        // Commands are imported on use: `--help` and `facts` stay light to start.
        const { runCommand } = await import('./commands/run.js');
        await runCommand(ctx);
        return 0;
      }
      case 'plan': {
        const { planCommand } = await import('./commands/plan.js');
        const plan = await planCommand(ctx);
        out(plan, () => formatPlan(plan, p));
        return 0;
      }
      case 'apply': {
        if (!flag(values, 'once'))
          throw usage('apply needs --once', 'The running agent applies continuously; `apply --once` applies the last good bundle now.');
        const { applyOnceCommand } = await import('./commands/apply.js');
        const report = await applyOnceCommand(ctx);
        out(report, () => formatReport(report, p));
        return report.status === 'failed' || report.status === 'rolled_back' ? 1 : 0;
      }
      case 'facts': {
        const { factsCommand } = await import('./commands/facts.js');
        const result = await factsCommand(ctx, { refresh: flag(values, 'refresh') });
        out(json ? result.facts : result, () => formatFacts(result, p));
        return 0;
      }
    }
  } catch (err) {
    if (isStemsError(err)) {
      io.stderr(formatError(err, p));
      return err.code === 'STEMS_CLI_USAGE' ? 2 : 1;
    }
    const internal = toStemsError(err);
    io.stderr(formatError(new StemsError('STEMS_INTERNAL', `internal error, please report: ${internal.message}`), p));
    if (err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
