import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, git, makeGitRepo, serveGitHttp } from './git-http.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'stems-helper-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function pkt(line: string): string {
  return (line.length + 4).toString(16).padStart(4, '0') + line;
}

function post(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('makeGitRepo / commitFiles', () => {
  it('makes a main-branch repo and commits changes and deletions', async () => {
    const repo = await makeGitRepo({ 'a.txt': 'one', 'dir/b.txt': 'two' });
    cleanups.push(repo.cleanup);
    expect(await git(repo.dir, 'rev-parse', 'main')).toBe(repo.head);
    const next = await commitFiles(repo.dir, { 'a.txt': 'three', 'dir/b.txt': null }, 'edit');
    expect(await git(repo.dir, 'log', '--format=%s', '-1')).toBe('edit');
    expect(await git(repo.dir, 'ls-tree', '-r', '--name-only', next)).toBe('a.txt');
  });
});

describe('serveGitHttp', () => {
  it('serves a repo to the git CLI over smart HTTP, new commits included', async () => {
    const repo = await makeGitRepo({ 'a.txt': 'one' });
    cleanups.push(repo.cleanup);
    const server = await serveGitHttp(repo.dir);
    cleanups.push(server.close);
    const clone = join(await tempDir(), 'clone');
    await git(repo.dir, 'clone', '--quiet', server.url, clone);
    expect(await readFile(join(clone, 'a.txt'), 'utf8')).toBe('one');
    const next = await commitFiles(repo.dir, { 'a.txt': 'two' }, 'two');
    await git(clone, 'pull', '--quiet', '--ff-only');
    expect(await git(clone, 'rev-parse', 'HEAD')).toBe(next);
  });

  it('serves every repo under a parent directory', async () => {
    const repo = await makeGitRepo({ 'a.txt': 'one' });
    cleanups.push(repo.cleanup);
    const server = await serveGitHttp(join(repo.dir, '..'));
    cleanups.push(server.close);
    const clone = join(await tempDir(), 'clone');
    await git(repo.dir, 'clone', '--quiet', `${server.url}/${repo.dir.split('/').pop()}`, clone);
    expect(await git(clone, 'rev-parse', 'HEAD')).toBe(repo.head);
  });

  it('passes a gzip request body through to git http-backend', async () => {
    const repo = await makeGitRepo({ 'a.txt': 'one' });
    cleanups.push(repo.cleanup);
    const server = await serveGitHttp(repo.dir);
    cleanups.push(server.close);
    const body = gzipSync(Buffer.from(`${pkt(`want ${repo.head}\n`)}0000${pkt('done\n')}`));
    const res = await post(`${server.url}/git-upload-pack`, body, {
      'content-type': 'application/x-git-upload-pack-request',
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    expect(res.body.toString('latin1')).toContain('PACK');
  });

  it('checks basic auth when asked to', async () => {
    const repo = await makeGitRepo({ 'a.txt': 'one' });
    cleanups.push(repo.cleanup);
    const server = await serveGitHttp(repo.dir, { auth: { username: 'u', password: 'p' } });
    cleanups.push(server.close);
    const dir = await tempDir();
    const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
    const refused = await new Promise<number | null>((ok) => {
      execFile('git', ['clone', '--quiet', server.url, join(dir, 'no')], { env }, (err) => ok(err ? 1 : 0));
    });
    expect(refused).toBe(1);
    await git(dir, 'clone', '--quiet', server.url.replace('http://', 'http://u:p@'), join(dir, 'yes'));
    expect(await git(join(dir, 'yes'), 'rev-parse', 'HEAD')).toBe(repo.head);
  });
});
