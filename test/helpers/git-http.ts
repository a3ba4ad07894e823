import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Test helpers for real git repositories: make them with the git CLI and serve
 * them over smart HTTP with the real `git http-backend`, so the hub's
 * isomorphic-git client talks to the same server code a forge runs.
 */

export interface GitHttpServer {
  /** Clone URL: the repo itself when a repo was given, else the base to append `/<repo>` to. */
  url: string;
  close(): Promise<void>;
}

export interface ServeGitHttpOptions {
  /** When set, every request must carry these basic-auth credentials (401 otherwise). */
  auth?: { username: string; password: string };
}

function isGitRepo(dir: string): boolean {
  return existsSync(join(dir, '.git')) || (existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects')));
}

function authorized(req: IncomingMessage, auth: ServeGitHttpOptions['auth']): boolean {
  if (!auth) return true;
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return req.headers.authorization === expected;
}

/** Writes a CGI response (headers, blank line, body) from `git http-backend` to the client. */
function pipeCgiResponse(child: ReturnType<typeof spawn>, res: ServerResponse): void {
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
    if (end < 0) return;
    const sepLength = end === crlf ? 4 : 2;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    headersDone = true;
    res.write(head.subarray(end + sepLength));
  });
  child.stdout?.on('end', () => res.end());
}

function handle(root: string, prefix: string, options: ServeGitHttpOptions) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!authorized(req, options.auth)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    if (prefix !== '' && !url.pathname.startsWith(`${prefix}/`)) {
      res.writeHead(404).end();
      return;
    }
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        // git http-backend inflates a gzip request body itself when told so
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(options.auth ? { REMOTE_USER: options.auth.username } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.on('error', (err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
    // the backend may answer (and exit) before reading the whole body, e.g. with an error
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') res.destroy(err);
    });
    req.pipe(child.stdin);
    pipeCgiResponse(child, res);
  };
}

/**
 * Serves git repositories over smart HTTP on 127.0.0.1 (random port) with the
 * real `git http-backend` CGI. Given a repo directory, `url` is that repo's
 * clone URL; given a parent directory, `url` is the base and clients append
 * `/<repo>`.
 */
export async function serveGitHttp(dir: string, options: ServeGitHttpOptions = {}): Promise<GitHttpServer> {
  const full = resolve(dir);
  const single = isGitRepo(full);
  const root = single ? dirname(full) : full;
  const prefix = single ? `/${basename(full)}` : '';
  const server = createServer(handle(root, prefix, options));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.closeAllConnections();
        server.close((err) => (err ? fail(err) : ok()));
      }),
  };
}

/** Runs git in `dir` and returns its trimmed stdout. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

export interface GitRepo {
  dir: string;
  /** The commit made from the initial files. */
  head: string;
  cleanup(): Promise<void>;
}

/** File contents for a test repo: text, raw bytes, or null to delete the path. */
export type RepoFiles = Record<string, string | Uint8Array | null>;

/**
 * Writes `files` (null deletes a path) and commits them all on the current
 * branch; returns the new commit id.
 */
export async function commitFiles(dir: string, files: RepoFiles, message: string): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    if (content === null) {
      await rm(full, { force: true, recursive: true });
    } else {
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content);
    }
  }
  await git(dir, 'add', '--all');
  await git(dir, 'commit', '--quiet', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** A fresh repository (`git init -b main`, local user.name/email) holding `files` in one commit. */
export async function makeGitRepo(files: RepoFiles, message = 'initial'): Promise<GitRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'stems-git-'));
  await git(dir, 'init', '--quiet', '-b', 'main');
  await git(dir, 'config', 'user.name', 'Stems Test');
  await git(dir, 'config', 'user.email', 'test@stems.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  const head = await commitFiles(dir, files, message);
  return { dir, head, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
