// Engine benchmark, run as whole processes (Node start included). It is a
// test helper (not built); to time it without tsx's start-up, compile the
// engine with a scratch tsconfig into packages/agent/node_modules/.stems-bench
// (so @stems/shared and pino resolve), then:
//   node engine/_test-bench.js gen /tmp/b.json 1000
//   node engine/_test-bench.js apply /tmp/b.json /tmp/root   # first apply, then again for the no-op
// `gen` writes a payload of N templated files (one template, per-file vars);
// `apply` parses it as the daemon would (BundlePayload) and applies it under a root.
import fs from 'node:fs';
import { BundlePayload } from '@stems/shared';
import pino from 'pino';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { payloadBuilder, resource, TEST_FACTS } from './_test-payload.js';
import { applyBundle } from './index.js';

const [command, payloadPath, arg] = process.argv.slice(2);
if (command === 'gen' && payloadPath) {
  const count = Number(arg ?? 1000);
  const b = payloadBuilder();
  const body = b.body(
    '# managed by stems\nhost={{facts.hostname}} ip={{facts.primaryIp}}\nname={{vars.name}}\nindex={{vars.i}}\ndomain={{vars.domain}}\n',
    {
      render: true,
      name: 'bench.hbs',
    },
  );
  const resources = [];
  for (let i = 0; i < count; i++) {
    const path = `/etc/bench/d${i % 20}/file-${i}.conf`;
    resources.push(resource('file', { id: `file:${path}`, path, body, sensitive: false, mode: '0644', vars: { name: `file-${i}`, i } }));
  }
  fs.writeFileSync(payloadPath, JSON.stringify(b.payload(resources)));
} else if (command === 'apply' && payloadPath && arg) {
  const t0 = performance.now();
  const payload = BundlePayload.parse(JSON.parse(fs.readFileSync(payloadPath, 'utf8')));
  const t1 = performance.now();
  const report = await applyBundle(payload, {
    root: arg,
    facts: TEST_FACTS,
    systemd: new FakeSystemd(),
    log: pino({ level: 'silent' }),
    factsHash: 'bench',
  });
  const t2 = performance.now();
  process.stdout.write(
    `${JSON.stringify({ status: report.status, files: payload.resources.length, parseMs: Math.round(t1 - t0), applyMs: Math.round(t2 - t1), sinceStartMs: Math.round(performance.now()) })}\n`,
  );
} else {
  throw new RangeError('usage: _test-bench.ts gen <payload.json> [count] | apply <payload.json> <root>');
}
