import { runCli } from './run.js';

// Entry point of bin/hub: the only place that touches process.* for the CLI.
const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
// Client commands are done; do not wait for idle sockets (fetch keep-alive) to close.
if (process.argv[2] !== 'serve') process.exit(code);
