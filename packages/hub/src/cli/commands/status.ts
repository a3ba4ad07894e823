import { setTimeout as sleep } from 'node:timers/promises';
import { isStemsError } from '@stems/shared';
import type { HubApi } from '../../hub-api.js';
import { type HubStatus, statusExitCode } from '../../status.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, type CommandInput, defineCommand, str, usageError } from '../command.js';
import { withApi } from '../connect.js';
import { parseDurationMs, renderStatus } from '../status-view.js';

/** `--watch` refresh period when no --interval is given. @default 2000 ms */
export const WATCH_INTERVAL_MS = 2000;

const isTTY = (input: CommandInput) => 'isTTY' in input.stdout && input.stdout.isTTY === true;
const colour = (input: CommandInput) => isTTY(input) && input.env.NO_COLOR === undefined;

function intervalOf(input: CommandInput): number {
  const text = str(input.values, 'interval');
  if (text === undefined) return WATCH_INTERVAL_MS;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 100) throw usageError(`--interval must be a duration of 100ms or more, like 500ms, 2s or 1m; got "${text}"`);
  return ms;
}

/**
 * `--watch`: one frame per interval until SIGINT/SIGTERM. On a TTY each frame
 * redraws the screen in place; elsewhere frames follow each other (blank line
 * between human frames, one JSON document per line with --json).
 * @returns null: everything was printed as it came
 */
async function watchStatus(input: CommandInput, api: HubApi): Promise<null> {
  const intervalMs = intervalOf(input);
  const tty = isTTY(input);
  const json = input.values.json === true;
  let frames = 0;
  while (!input.signal.aborted) {
    let text: string;
    try {
      const status = await api.status();
      text = json ? JSON.stringify(status) : renderStatus(status, { colour: colour(input) });
    } catch (err) {
      if (!isStemsError(err)) throw err;
      // a hub restart is not the end of a live view: say so and try again next frame
      text = json ? JSON.stringify({ error: err.toJSON() }) : `hub status: ${err.code}: ${err.message}`;
    }
    const stamp = json ? '' : `${new Date().toISOString()}  (every ${intervalMs} ms, Ctrl-C stops)\n`;
    const clear = tty && !json ? '\u001b[H\u001b[2J' : '';
    const gap = !tty && !json && frames > 0 ? '\n' : '';
    input.stdout.write(`${clear}${gap}${stamp}${text}\n`);
    frames++;
    try {
      await sleep(intervalMs, undefined, { signal: input.signal });
    } catch (err) {
      if (!input.signal.aborted) throw err; // only the abort of SIGINT/SIGTERM ends the wait early
    }
  }
  return null;
}

export const statusCommand = defineCommand<HubStatus | null>({
  name: 'status',
  summary: 'nodes: state, serial, revision, drift, health, last seen',
  usage: `hub status [--json] [--watch [--interval 2s]] [connection options]

One row per node: NODE, STATE, SERIAL (last applied), REVISION, DRIFT (resources
drifted now), HEALTH (load / memory % / fullest disk %), LAST SEEN. States:
pending, applying, converged, failed, drifted, offline (docs/drift-and-status.md).

Options:
  --watch          redraw every interval until Ctrl-C (plain repeated frames
                   when stdout is not a terminal; JSON lines with --json)
  --interval DUR   --watch period: 500ms, 2s, 1m (default 2s)

Exit codes: 0 every node converged, pending or applying; 1 a node is failed,
drifted or offline (or the command failed); 2 usage. --watch exits 0 when
stopped by Ctrl-C.

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, watch: { type: 'boolean' }, interval: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: (input) => {
    if (input.values.watch !== true) {
      if (input.values.interval !== undefined) throw usageError('--interval only goes with --watch');
      return withApi(input, (api) => api.status());
    }
    intervalOf(input); // a bad flag fails before connecting
    return withApi(input, (api) => watchStatus(input, api));
  },
  render: (s, input) => (s ? renderStatus(s, { colour: colour(input) }) : ''),
  // null: --watch, stopped by the user
  exitCode: (s) => (s ? statusExitCode(s) : 0),
  streamed: (input) => input.values.watch === true,
});
