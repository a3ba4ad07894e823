// Applies one variant of the crash bundle under a root, so a test can SIGKILL
// it at random points. It loads and builds both payloads first, prints
// "ready", then waits for the variant on stdin: the test keeps one warm and
// its start-up cost stays out of the kill window.
// Run: node <bundled fixture> <root>, then write "old\n" or "new\n" to stdin.
import { createInterface } from 'node:readline';
import pino from 'pino';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { crashPayload } from './_test-crash-bundle.js';
import { TEST_FACTS } from './_test-payload.js';
import { applyBundle } from './index.js';

const [root] = process.argv.slice(2);
if (!root) throw new RangeError('usage: _test-crash-fixture <root>, then the variant (old|new) on stdin');
const payloads = { old: crashPayload('old'), new: crashPayload('new') };
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const variant = line.trim();
  if (variant !== 'old' && variant !== 'new') throw new RangeError(`unknown variant "${variant}"`);
  process.stdout.write('start\n');
  const started = performance.now();
  const report = await applyBundle(payloads[variant], {
    root,
    facts: TEST_FACTS,
    systemd: new FakeSystemd(),
    log: pino({ level: 'silent' }),
    factsHash: 'crash',
  });
  process.stdout.write(`done ${report.status} ${Math.round(performance.now() - started)}\n`);
  break;
}
lines.close();
