import { PassThrough } from 'node:stream';
import { runCli } from './run.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs one `hub` invocation in this process, as bin/hub would, and captures its output. */
export async function runHub(argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  const code = await runCli(argv, { stdout, stderr, env, signal: new AbortController().signal });
  return { code, out, err };
}
