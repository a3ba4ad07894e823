#!/usr/bin/env node
// The floor: a plain Node script that only renders, writes (temp + rename)
// and hashes N files, with no config management around it: the same files as
// the bench scenario (bench/_scenario.ts). Our agent is measured against it
// (bench/RESULTS.md). Usage: node bench/floor.mjs ROOT N
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';

const [root, count = '1000'] = process.argv.slice(2);
const dir = join(root, 'etc/bench');
mkdirSync(dir, { recursive: true });
const ip = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
const facts = { hostname: hostname(), primaryIp: ip ?? '' };
const render = (i) => `# managed by stems\nhost = ${facts.hostname}\nip = ${facts.primaryIp}\nname = item-${i}\nvalue = ${i * 7}\n`;
let written = 0;
for (let i = 0; i < Number(count); i++) {
  const path = join(dir, `file-${i}.conf`);
  const want = render(i);
  let have;
  try {
    have = readFileSync(path);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const hash = (b) => createHash('sha256').update(b).digest('hex');
  if (have && hash(have) === hash(want)) continue;
  writeFileSync(`${path}.tmp`, want, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
  written++;
}
console.log(JSON.stringify({ written }));
