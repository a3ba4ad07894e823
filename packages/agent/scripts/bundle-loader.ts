/**
 * The start of dist/stems-agent.mjs (scripts/bundle.ts puts it there). The
 * agent's code, CommonJS, sits at the end of the file in one block comment,
 * which V8 skips far faster than it scans a string literal of the same size;
 * the loader reads it from the file and compiles it with vm.Script so that V8
 * can reuse a code cache kept next to the file (stems-agent.mjs.cache): a
 * one-shot `apply --once` then skips most parsing and lazy compilation
 * (bench/RESULTS.md). Node 20 has no module compile cache of its own (22
 * has). STEMS_AGENT_CODE_CACHE=off runs without it.
 */
import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** Bytes of the agent's code (ASCII) as the file holds it, between `/*` and `*\/`. */
declare const STEMS_CODE_BYTES: number;
/** sha256 (hex) of the agent's code (as compiled). */
declare const STEMS_DIGEST: string;
/** Where the comment with the code starts: the first line that begins with it (this loader holds it only escaped). */
const HEAD = '\n/*(function (exports, ';
const STAR = 0x2a;

const file = fileURLToPath(import.meta.url);
const cacheFile = `${file}.cache`;
const digest = Buffer.from(STEMS_DIGEST, 'hex');

const useCache = process.env.STEMS_AGENT_CODE_CACHE !== 'off';

function readCache(): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(cacheFile, 'r');
  } catch {
    return undefined; // no cache yet (or unreadable): compile from source
  }
  try {
    const cache = fstatSync(fd);
    // It is code V8 will run: trust it only as far as the bundle itself.
    if (cache.uid !== statSync(file).uid || (cache.mode & 0o022) !== 0) return undefined;
    const data = readFileSync(fd);
    // V8 checks only the source's length; the header ties the cache to this exact code.
    return data.subarray(0, digest.length).equals(digest) ? data.subarray(digest.length) : undefined;
  } finally {
    closeSync(fd);
  }
}

function writeCache(data: Buffer): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([digest, data]), { mode: 0o644, flag: 'wx' });
    renameSync(tmp, cacheFile);
  } catch {
    // a read-only install directory or a full disk: the agent works the same without a cache
    rmSync(tmp, { force: true });
  }
}

/**
 * The agent, already wrapped as `(function (exports, require, module,
 * __filename, __dirname) {…})`. Inside the comment each `*\/` of the code is
 * written `\0/` (the code has no NUL of its own: the build checks), so the
 * bytes are mended in place and become one string, with no copy between; as
 * Latin-1, a plain copy, where UTF-8 would check every byte (the code is ASCII).
 */
function agentCode(): string {
  const bytes = readFileSync(file);
  const start = bytes.indexOf(HEAD, 0, 'latin1') + '\n/*'.length;
  const end = start + STEMS_CODE_BYTES;
  if (start < '\n/*'.length || bytes.toString('latin1', end, end + 2) !== '*/') {
    throw new Error(`${file} is damaged (its code is not where its loader expects it): install stems-agent again`);
  }
  for (let at = bytes.indexOf(0, start); at !== -1 && at < end; at = bytes.indexOf(0, at + 1)) bytes[at] = STAR;
  return bytes.toString('latin1', start, end);
}

/** Compiles the agent; the cache buffer is dropped once V8 has read it (the daemon keeps running). */
function compile(): { script: Script; stale: boolean } {
  const cached = useCache ? readCache() : undefined;
  const script = new Script(agentCode(), { filename: file, cachedData: cached });
  return { script, stale: cached === undefined || script.cachedDataRejected === true };
}

const { script, stale } = compile();
const mod: { exports: { main?: (argv: string[]) => Promise<void> } } = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(file), mod, file, dirname(file));
const argv = process.argv.slice(2);
await mod.exports.main?.(argv);
// Written after an apply or a plan, so it holds the engine's compiled code too;
// never by the daemon, which changes V8's flags (a cache must match them).
if (useCache && stale && (argv[0] === 'apply' || argv[0] === 'plan')) writeCache(script.createCachedData());
