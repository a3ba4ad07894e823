import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './exec.js';

/**
 * The Debian mirror for debootstrap comes from the machine's own apt sources
 * at run time, so no mirror or registry host name is ever written into the
 * project (or into the rootfs: see rootfs.ts).
 */

export interface SourceFile {
  path: string;
  text: string;
}

interface Source {
  uris: string[];
  suites: string[];
}

/** One-line format: `deb [opts] URI suite [components…]`. */
function parseOneLine(text: string): Source[] {
  const out: Source[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ')) continue;
    const rest = line
      .slice(4)
      .replace(/^\[[^\]]*\]\s*/, '')
      .split(/\s+/);
    const [uri, suite] = rest;
    if (uri && suite) out.push({ uris: [uri], suites: [suite] });
  }
  return out;
}

/** deb822 format: blank-line separated stanzas with `Types:`, `URIs:`, `Suites:`, optional `Enabled:`. */
function parseDeb822(text: string): Source[] {
  const out: Source[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      const m = raw.match(/^([A-Za-z-]+):\s*(.*)$/);
      if (m?.[1] && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || fields.get('enabled') === 'no') continue;
    out.push({ uris: (fields.get('uris') ?? '').split(/\s+/).filter(Boolean), suites: (fields.get('suites') ?? '').split(/\s+/) });
  }
  return out;
}

/** The first URI that serves `suite` itself (not `suite-security`/`-updates`), or undefined. */
export function debianMirrorFrom(files: SourceFile[], suite: string): string | undefined {
  for (const file of files) {
    const sources = file.path.endsWith('.sources') ? parseDeb822(file.text) : parseOneLine(file.text);
    for (const source of sources) {
      if (source.suites.includes(suite) && source.uris[0]) return source.uris[0];
    }
  }
  return undefined;
}

async function readIfPresent(path: string): Promise<SourceFile[]> {
  try {
    return [{ path, text: await readFile(path, 'utf8') }];
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** Reads /etc/apt/sources.list and sources.list.d/*.list|*.sources (under `etcApt`). */
export async function readAptSources(etcApt = '/etc/apt'): Promise<SourceFile[]> {
  const files = await readIfPresent(join(etcApt, 'sources.list'));
  let names: string[] = [];
  try {
    names = (await readdir(join(etcApt, 'sources.list.d'))).sort();
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  for (const name of names) {
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(...(await readIfPresent(join(etcApt, 'sources.list.d', name))));
  }
  return files;
}
