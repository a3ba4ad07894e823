import { runCli } from './program.js';

// The executable: bin/stems-agent imports this file. Everything testable is in program.ts.
const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
});
process.exitCode = code;
