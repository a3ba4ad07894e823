import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { errnoCode, parseYaml } from '@stems/shared';
import type { Logger } from 'pino';

const EXTENSIONS = new Set(['.json', '.yaml', '.yml']);
/** A custom facts file larger than this is skipped. @default 1 MiB */
const MAX_CUSTOM_BYTES = 1024 * 1024;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Reads local custom facts: each JSON/YAML file in facts.d becomes
 * `facts.custom.<file name without extension>`. A bad file is skipped with a
 * warning and never fails the whole gathering: one typo must not stop a node
 * from converging.
 */
export async function readCustomFacts(dir: string, log: Logger): Promise<Record<string, unknown>> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return {};
    log.warn({ err, dir }, 'facts.d unreadable; no custom facts');
    return {};
  }
  const custom: Record<string, unknown> = {};
  for (const name of names) {
    const ext = extname(name);
    const key = name.slice(0, -ext.length);
    if (!EXTENSIONS.has(ext) || name.startsWith('.')) continue;
    if (!KEY.test(key) || key === '__proto__' || key === 'constructor' || key === 'prototype') {
      log.warn({ file: name }, 'custom facts file name is not a valid key; skipped');
      continue;
    }
    const value = await readOne(join(dir, name), ext, log);
    if (value === undefined) continue;
    if (Object.hasOwn(custom, key)) {
      log.warn({ file: name, key }, 'two custom facts files share a key; the first one (sorted) wins');
      continue;
    }
    custom[key] = value;
  }
  return custom;
}

async function readOne(path: string, ext: string, log: Logger): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    log.warn({ err, file: path }, 'custom facts file unreadable; skipped');
    return undefined;
  }
  if (Buffer.byteLength(text) > MAX_CUSTOM_BYTES) {
    log.warn({ file: path, maxBytes: MAX_CUSTOM_BYTES }, 'custom facts file too large; skipped');
    return undefined;
  }
  if (ext === '.json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      log.warn({ err, file: path }, 'custom facts file is not valid JSON; skipped');
      return undefined;
    }
  }
  const { parsed, problems } = parseYaml(text, path);
  if (!parsed) {
    log.warn(
      { file: path, problems: problems.map((p) => `${p.line}:${p.col}: ${p.message}`) },
      'custom facts file is not valid YAML; skipped',
    );
    return undefined;
  }
  return parsed.value ?? null;
}
