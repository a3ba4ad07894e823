import { StemsError } from '@stems/shared';

/** Removes credentials from a text: userinfo in URLs and the given secrets. */
export function redactCredentials(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('***');
  return out;
}

/** The URL as it may appear in a message or log: no userinfo. */
export function safeUrl(url: string): string {
  return redactCredentials(url, []);
}

function errorName(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

function hintFor(name: string | undefined, message: string): string {
  if (name === 'UserCanceledError' || (name === 'HttpError' && /\b40[13]\b/.test(message))) {
    return 'The git server refused the credentials: check the username and password (or token) in the hub config.';
  }
  if (name === 'HttpError' && /\b404\b/.test(message)) return 'Check the repository URL in the hub config.';
  if (name === 'UrlParseError' || name === 'UnknownTransportError') {
    return 'Give an http(s) URL of a git server or the path of a local git repository.';
  }
  return 'Check that the git server is reachable from the hub and the repository URL is right; the hub retries on its next sync.';
}

/**
 * A failed fetch as STEMS_GIT_FETCH. The cause is not attached: git client
 * errors carry request data (URLs, headers) that may hold credentials.
 */
export function fetchError(err: unknown, context: { url: string; secrets: readonly string[] }): StemsError {
  const raw = err instanceof Error ? err.message : String(err);
  const name = errorName(err);
  // the fetch cancels itself when the server refuses the credentials (see onAuthFailure)
  const first = name === 'UserCanceledError' ? 'the git server refused the credentials (HTTP 401)' : (raw.split('\n')[0] ?? raw);
  const message = redactCredentials(first, context.secrets);
  return new StemsError('STEMS_GIT_FETCH', `Cannot fetch ${redactCredentials(context.url, context.secrets)}: ${message}`, {
    hint: hintFor(name, raw),
    details: { url: redactCredentials(context.url, context.secrets), ...(name ? { gitError: name } : {}) },
  });
}
