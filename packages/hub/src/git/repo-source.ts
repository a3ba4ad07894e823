import fs from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RepoReader } from '@stems/shared';
import { errnoCode, StemsError } from '@stems/shared';
import git, { type ReadCommitResult } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { fetchError, safeUrl } from './fetch-error.js';
import { treeReader } from './tree-reader.js';

export interface CommitInfo {
  commit: string;
  subject: string;
  author: string;
  /** ISO 8601 */
  committedAt: string;
}

export interface RepoSourceOptions {
  /** http(s) URL (smart protocol) or a local path to a git repo (`file://` works too). */
  url: string;
  branch: string;
  /** Hub-owned dir for the fetched objects (a bare gitdir); unused for a local path. */
  cacheDir: string;
  auth?: { username: string; password: string };
}

export interface RepoSource {
  /** Fetches the tracked branch (remote) or reads its ref (local path); returns the head commit, or null when the branch does not exist. */
  fetch(): Promise<CommitInfo | null>;
  /** Commits reachable from `head`, newest first, stopping before `since` (exclusive) or after `max` (default 50). */
  log(head: string, opts?: { since?: string; max?: number }): Promise<CommitInfo[]>;
  /** A RepoReader (packages/shared/src/repo/load.ts) over the commit's TREE, never a working copy. */
  reader(commit: string): RepoReader;
}

/** Commits `log` returns when no max is given. @default 50 */
export const DEFAULT_LOG_MAX = 50;
/** Where fetched remote heads are kept inside the cache gitdir. */
const REMOTE = 'origin';

export function commitInfo(result: ReadCommitResult): CommitInfo {
  const { commit } = result;
  return {
    commit: result.oid,
    subject: commit.message.split('\n')[0]?.trim() ?? '',
    author: `${commit.author.name} <${commit.author.email}>`,
    committedAt: new Date(commit.committer.timestamp * 1000).toISOString(),
  };
}

function isRemote(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

function notFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'NotFoundError';
}

/** The gitdir of a local repository: `<path>/.git` for a working copy, the path itself when bare. */
async function localGitdir(path: string): Promise<string> {
  if ((/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !path.startsWith('file://')) || /^[\w.-]+@[\w.-]+:/.test(path)) {
    throw new StemsError('STEMS_GIT_FETCH', `Cannot fetch ${safeUrl(path)}: only http(s) URLs and local paths are supported`, {
      hint: 'Use the https:// clone URL of the repository (with a token as password), or a path on the hub host.',
    });
  }
  const full = resolve(path.startsWith('file://') ? fileURLToPath(path) : path);
  for (const candidate of [join(full, '.git'), full]) {
    try {
      if ((await stat(join(candidate, 'HEAD'))).isFile() && (await stat(join(candidate, 'objects'))).isDirectory()) return candidate;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    }
  }
  throw new StemsError('STEMS_GIT_FETCH', `Cannot read ${full}: it is not a git repository`, {
    hint: 'Give the path of a git repository (a working copy or a bare repo), or an http(s) URL.',
  });
}

/**
 * Opens the desired-state repository. A remote (http/https) is fetched into
 * `cacheDir`, a bare gitdir, one branch only; a local path is read in place
 * (isomorphic-git cannot fetch from a path). Either way files are read from
 * commit trees.
 */
export function openRepoSource(opts: RepoSourceOptions): RepoSource {
  const remote = isRemote(opts.url);
  const secrets = opts.auth ? [opts.auth.password] : [];
  const cache = {};
  // Fetches on one cache dir must not interleave: each waits for the previous.
  let queue: Promise<unknown> = Promise.resolve();
  let gitdir: Promise<string> | undefined;

  const resolveGitdir = (): Promise<string> => {
    if (!gitdir) {
      gitdir = remote ? Promise.resolve(resolve(opts.cacheDir)) : localGitdir(opts.url);
      // a failed lookup is retried on the next call (the path may appear later)
      gitdir.catch(() => {
        gitdir = undefined;
      });
    }
    return gitdir;
  };

  async function readHead(dir: string, ref: string): Promise<CommitInfo | null> {
    let oid: string;
    try {
      oid = await git.resolveRef({ fs, gitdir: dir, ref });
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
    return commitInfo(await git.readCommit({ fs, gitdir: dir, oid, cache }));
  }

  async function fetchRemote(dir: string): Promise<CommitInfo | null> {
    await git.init({ fs, gitdir: dir, bare: true, defaultBranch: opts.branch });
    const tracking = `refs/remotes/${REMOTE}/${opts.branch}`;
    // fetch maps the remote branch through the remote's refspec; the URL is passed
    // on every fetch, so the config keeps only its credential-free form
    await git.setConfig({ fs, gitdir: dir, path: `remote.${REMOTE}.url`, value: safeUrl(opts.url) });
    await git.setConfig({ fs, gitdir: dir, path: `remote.${REMOTE}.fetch`, value: `+refs/heads/${opts.branch}:${tracking}` });
    let result: Awaited<ReturnType<typeof git.fetch>>;
    try {
      result = await git.fetch({
        fs,
        http,
        gitdir: dir,
        cache,
        url: opts.url,
        remote: REMOTE,
        // `ref` is what we already have (sent as "have"), `remoteRef` what we want
        ref: tracking,
        remoteRef: opts.branch,
        singleBranch: true,
        tags: false,
        ...(opts.auth ? { onAuth: () => ({ username: opts.auth?.username, password: opts.auth?.password }) } : {}),
        // a refused login would otherwise be retried by asking onAuth again, forever
        onAuthFailure: () => ({ cancel: true }),
      });
    } catch (err) {
      if (notFound(err)) return null;
      throw fetchError(err, { url: opts.url, secrets });
    }
    if (result.fetchHead === null) return null;
    return commitInfo(await git.readCommit({ fs, gitdir: dir, oid: result.fetchHead, cache }));
  }

  return {
    fetch() {
      const run = queue.then(async () => {
        const dir = await resolveGitdir();
        if (!remote) return readHead(dir, `refs/heads/${opts.branch}`);
        return fetchRemote(dir);
      });
      queue = run.catch(() => undefined);
      return run;
    },

    async log(head, logOpts = {}) {
      const max = logOpts.max ?? DEFAULT_LOG_MAX;
      if (max <= 0 || head === logOpts.since) return [];
      const dir = await resolveGitdir();
      let commits: ReadCommitResult[];
      try {
        // git.log walks newest first (by commit time across merges), at most `max` commits
        commits = await git.log({ fs, gitdir: dir, ref: head, depth: max, cache });
      } catch (err) {
        if (!notFound(err)) throw err;
        throw new StemsError('STEMS_REVISION_NOT_FOUND', `Commit ${head} is not in the fetched repository`, {
          hint: 'Fetch the repository first; the commit may have been removed by a force-push.',
        });
      }
      const out: CommitInfo[] = [];
      for (const c of commits) {
        if (c.oid === logOpts.since) break;
        out.push(commitInfo(c));
      }
      return out;
    },

    reader(commit) {
      let inner: RepoReader | undefined;
      return {
        async readFile(path) {
          if (!inner) inner = treeReader({ gitdir: await resolveGitdir(), commit, cache });
          try {
            return await inner.readFile(path);
          } catch (err) {
            if (!notFound(err)) throw err;
            throw new StemsError('STEMS_REVISION_NOT_FOUND', `Commit ${commit} is not in the fetched repository`, {
              hint: 'Fetch the repository first, or check the commit id.',
              details: { commit },
            });
          }
        },
      };
    },
  };
}
