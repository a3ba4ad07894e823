import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { debianMirrorFrom, readAptSources } from './apt-mirror.js';

// Host names here are placeholders (RFC 2606 example domains), never a real mirror.
const DEB822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`;

describe('debianMirrorFrom', () => {
  it('takes the URI of the deb822 stanza that serves the suite itself', () => {
    expect(debianMirrorFrom([{ path: 'debian.sources', text: DEB822 }], 'bookworm')).toBe('http://mirror.example/debian');
  });

  it('skips security-only, deb-src and disabled sources', () => {
    const text = `Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no
`;
    const files = [
      { path: 'a.sources', text },
      { path: 'b.sources', text: DEB822.split('\n\n')[1] ?? '' },
    ];
    expect(debianMirrorFrom(files, 'bookworm')).toBeUndefined();
  });

  it('reads one-line sources with options and comments', () => {
    const text =
      '# deb http://old.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n';
    expect(debianMirrorFrom([{ path: 'sources.list', text }], 'bookworm')).toBe('http://one.example/debian');
  });
});

describe('readAptSources', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads sources.list and only *.list / *.sources from sources.list.d', async () => {
    dir = await mkdtemp(join(tmpdir(), 'stems-apt-'));
    await mkdir(join(dir, 'sources.list.d'));
    await writeFile(join(dir, 'sources.list.d', 'debian.sources'), DEB822);
    await writeFile(join(dir, 'sources.list.d', 'old.list.disabled'), 'deb http://no.example/debian bookworm main\n');
    const files = await readAptSources(dir);
    expect(files.map((f) => f.path)).toEqual([join(dir, 'sources.list.d', 'debian.sources')]);
    expect(debianMirrorFrom(files, 'bookworm')).toBe('http://mirror.example/debian');
  });
});
