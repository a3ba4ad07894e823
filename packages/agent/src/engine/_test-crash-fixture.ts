// Applies one variant of the crash bundle under a root, so a test can SIGKILL
// it at random points. Run: node --import tsx _test-crash-fixture.ts <root> <old|new>
import pino from 'pino';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { crashPayload, type Variant } from './_test-crash-bundle.js';
import { TEST_FACTS } from './_test-payload.js';
import { applyBundle } from './index.js';

const [root, variant] = process.argv.slice(2);
if (!root || (variant !== 'old' && variant !== 'new')) throw new RangeError('usage: _test-crash-fixture.ts <root> <old|new>');
const payload = crashPayload(variant as Variant);
process.stdout.write('start\n');
const started = performance.now();
const report = await applyBundle(payload, {
  root,
  facts: TEST_FACTS,
  systemd: new FakeSystemd(),
  log: pino({ level: 'silent' }),
  factsHash: 'crash',
});
process.stdout.write(`done ${report.status} ${Math.round(performance.now() - started)}\n`);
