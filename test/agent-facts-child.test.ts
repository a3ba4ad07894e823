import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeKey, refreshFactsInChild, type SelfCommand } from '@stems/agent';
import { encodePublicKey, generateKeyPair } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The agent's own logger, capturing (pino is not a dependency of the test tree).
import { makeLogger } from '../packages/agent/src/cli/context.js';
import { AGENT_BIN, assertBuilt, startDaemon } from './helpers/processes.js';

// The daemon gathers facts in a child `stems-agent facts --refresh` (the built
// CLI here, as on a node) so that systeminformation never loads into it.

let dir: string;
let configPath: string;
/** The state folder the config names; the tests pass another one, as `--state` would. */
let configState: string;
let stateDir: string;
let factsDir: string;
let warnings: string[];
const log = () =>
  makeLogger({ level: 'warn', toStderr: false, destination: { write: (line: string) => warnings.push(JSON.parse(line).msg) } });
const CHILD: SelfCommand = [process.execPath, AGENT_BIN];

beforeEach(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'stems-facts-child-'));
  configPath = join(dir, 'agent.yaml');
  configState = join(dir, 'state-from-config');
  stateDir = join(dir, 'state');
  factsDir = join(dir, 'facts.d');
  warnings = [];
  await mkdir(factsDir);
  await mkdir(join(dir, 'root'));
  await writeFile(join(factsDir, 'site.json'), '{"rack": "r7"}');
  await writeFile(
    configPath,
    [
      `hub:\n  url: http://127.0.0.1:1\n  key: "${encodePublicKey(generateKeyPair().publicKey)}"\n`,
      'node: projector\ncluster: colab\n',
      `paths:\n  state: ${configState}\n  root: ${join(dir, 'root')}\n  factsDir: ${factsDir}\n`,
    ].join(''),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cachedOnDisk = async (state: string) => JSON.parse(await readFile(join(state, 'facts.json'), 'utf8'));

describe('facts gathered in a child process', () => {
  it('come from the child’s cache, gathered with the config’s facts folder, into the state folder passed on', async () => {
    const facts = await refreshFactsInChild({ self: CHILD, configPath, stateDir, factsDir: join(dir, 'unused'), log: log() });
    expect(warnings).toEqual([]);
    expect(facts.facts.custom).toEqual({ site: { rack: 'r7' } });
    expect(await cachedOnDisk(stateDir)).toEqual(facts);
  });

  it('are gathered in the daemon’s own process when the child fails', async () => {
    const self: SelfCommand = [process.execPath, join(dir, 'no-such-agent.mjs')];
    const facts = await refreshFactsInChild({ self, configPath, stateDir, factsDir, log: log() });
    expect(warnings).toEqual(['facts child process failed; gathering facts in the daemon']);
    expect(facts.facts.custom).toEqual({ site: { rack: 'r7' } });
    expect(await cachedOnDisk(stateDir)).toEqual(facts);
  });

  it('are gathered in the daemon’s own process when the child hangs past its time', async () => {
    const hanging: SelfCommand = [process.execPath, '-e', 'setTimeout(() => {}, 60_000)'];
    const started = Date.now();
    const facts = await refreshFactsInChild({ self: hanging, configPath, stateDir, factsDir, log: log(), timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(warnings).toHaveLength(1);
    expect(facts.facts.custom).toEqual({ site: { rack: 'r7' } });
  });

  it('by `stems-agent run` at start, when it has no facts cache', async () => {
    await ensureNodeKey(stateDir);
    // The agent's entry behind a script that notes each command line it runs:
    // the daemon starts its child through the same entry (process.argv[1]).
    const calls = join(dir, 'calls.jsonl');
    const entry = join(dir, 'stems-agent.mjs');
    await writeFile(
      entry,
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + '\\n');\nawait import(${JSON.stringify(AGENT_BIN)});\n`,
    );
    const agent = startDaemon(process.execPath, [entry, 'run', '--config', configPath, '--state', stateDir]);
    try {
      await agent.waitFor(/agent running/, 20_000);
      const lines = (await readFile(calls, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toEqual([
        ['run', '--config', configPath, '--state', stateDir],
        ['facts', '--refresh', '--json', '--config', configPath, '--state', stateDir],
      ]);
      expect((await cachedOnDisk(stateDir)).facts.custom).toEqual({ site: { rack: 'r7' } });
      expect(agent.output()).not.toContain('gathering facts in the daemon');
    } finally {
      await agent.stop();
    }
  });
});
