// The entry point: bin/stems-agent and the bundle's loader call main(). Everything testable is in program.ts.
import { setFlagsFromString } from 'node:v8';

/** Runs one stems-agent command line; sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  // The daemon trades peak speed for memory: no optimizing tiers, a smaller
  // heap, and a young generation that stays at its first 2 MB (V8 reads the
  // growth factor whenever it would grow it, so setting it now still works).
  // Its work is short and I/O bound and it stays resident on every node
  // (bench/RESULTS.md "Agent footprint": the growth factor alone took idle RSS
  // from 59.5 to 57.4 MB and the peak of a 1000-file apply from 77 to 63 MB).
  // One-shot commands keep V8's defaults.
  if (argv[0] === 'run') setFlagsFromString('--no-opt --no-sparkplug --optimize-for-size --semi-space-growth-factor=1');

  // --help and --version answer without loading zod, pino or the engine.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '--help' || argv[0] === '-h')) {
    if (argv[0] === '--version') {
      const { agentVersion } = await import('./version.js');
      process.stdout.write(`${agentVersion()}\n`);
    } else {
      const { HELP } = await import('./help.js');
      process.stdout.write(`${HELP['']}\n`);
    }
    return;
  }
  const { runCli } = await import('./program.js');
  process.exitCode = await runCli(argv, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    // The entry script: the installed stems-agent.mjs, or bin/stems-agent in a checkout.
    self: process.argv[1] === undefined ? undefined : [process.execPath, process.argv[1]],
  });
}
