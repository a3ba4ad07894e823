/**
 * Every error that crosses a boundary (wire, API, CLI, report) carries one of
 * these stable codes. Codes are never renamed or reused; docs/errors.md is
 * generated from this map and a test keeps the two in step.
 */
export const ERROR_CODES = {
  // repository (declare / validate)
  STEMS_REPO_YAML: 'A repository file is not valid YAML (or uses too many aliases).',
  STEMS_REPO_SCHEMA: 'A repository file does not match the cluster.yaml / role.yaml schema.',
  STEMS_REPO_MISSING_FILE: 'A file the repository refers to (role, template, source) does not exist.',
  STEMS_REPO_UNSAFE_ENTRY: 'The repository tree holds a symlink, submodule or oversized blob where a file was expected.',
  STEMS_REPO_CONFLICT: 'Two resources on one node manage the same path or unit.',
  STEMS_REPO_UNKNOWN_NOTIFY: 'A resource notifies an id that no resource on the node has.',
  STEMS_REPO_DUPLICATE_ID: 'Two resources on one node have the same id.',
  STEMS_PATH_INVALID: 'A managed path is not absolute, not normalized, or holds forbidden characters.',
  STEMS_PATH_TRAVERSAL: 'A path tries to leave its root with "..".',
  STEMS_PATH_FORBIDDEN: "A path points at a place stems never manages (the agent's own keys and state).",
  // templates
  STEMS_TEMPLATE_SYNTAX: 'A template does not compile.',
  STEMS_TEMPLATE_MISSING_VAR: 'A template uses a variable or fact that is not defined for the node.',
  STEMS_TEMPLATE_RENDER: 'A template failed while rendering (a helper got bad arguments).',
  // bundles and signing
  STEMS_BUNDLE_MALFORMED: 'A bundle envelope or payload is not well formed.',
  STEMS_BUNDLE_UNKNOWN_KEY: 'A bundle is not signed by a key this agent trusts.',
  STEMS_BUNDLE_BAD_SIGNATURE: 'A bundle signature does not verify against its payload.',
  STEMS_BUNDLE_WRONG_NODE: 'A bundle was issued for another node or cluster.',
  STEMS_BUNDLE_REPLAY: 'A bundle serial is not higher than the last one applied.',
  STEMS_BUNDLE_EXPIRED: 'A bundle is past its expiry time.',
  STEMS_BUNDLE_FILE_MISMATCH: "A bundle file's sha256 or size does not match its content.",
  STEMS_KEY_INVALID: 'A key file or key text is not a valid ed25519 key.',
  // wire protocol
  STEMS_WIRE_MALFORMED: 'A websocket frame is not valid JSON or not a known message.',
  STEMS_WIRE_TOO_LARGE: 'A websocket frame is larger than the configured cap.',
  STEMS_WIRE_UNEXPECTED: 'A websocket message arrived in a state where it is not allowed.',
  STEMS_WIRE_AUTH_FAILED: "The node's challenge signature did not verify, or its key is not the one on record.",
  STEMS_HUB_KEY_MISMATCH: 'The hub answered with a key other than the one pinned at enrollment.',
  STEMS_NODE_PENDING: 'The node key is not accepted yet; accept it with `hub nodes accept`.',
  STEMS_NODE_REJECTED: 'The node key was rejected or revoked.',
  // hub
  STEMS_HUB_NOT_INITIALIZED: 'The hub data directory has no config; run `hub init`.',
  STEMS_HUB_CONFIG: 'The hub config file is invalid.',
  STEMS_HUB_UNREACHABLE: 'The hub could not be reached.',
  STEMS_GIT_FETCH: 'Fetching the desired-state repository failed.',
  STEMS_REVISION_NOT_FOUND: 'No revision matches the given commit, prefix or name.',
  STEMS_REVISION_AMBIGUOUS: 'A commit prefix matches more than one revision.',
  STEMS_REVISION_INVALID: 'The revision failed validation and cannot be approved.',
  STEMS_NODE_NOT_FOUND: 'No node has that name.',
  STEMS_NOT_FOUND: 'The requested resource does not exist.',
  STEMS_AUTH_REQUIRED: 'The request carries no valid token or node signature.',
  STEMS_AUTH_FORBIDDEN: "The token's role does not allow this action.",
  STEMS_AUTH_RATE_LIMITED: 'Too many failed authentication attempts; wait and try again.',
  STEMS_REQUEST_INVALID: 'The request body, params or query did not validate.',
  STEMS_TOKEN_INVALID: 'A join token is unknown, used or expired.',
  STEMS_INSTALL_UNAVAILABLE: 'The hub cannot serve the agent install (script or agent bundle missing).',
  // agent
  STEMS_AGENT_NOT_ENROLLED: 'The agent has no config or key; run `stems-agent enroll`.',
  STEMS_AGENT_CONFIG: 'The agent config file is invalid.',
  STEMS_AGENT_NO_BUNDLE: 'The agent has no accepted bundle yet.',
  STEMS_AGENT_STATE: 'An agent state file (serial, bundle, queue) is unreadable or corrupt.',
  STEMS_APPLY_FAILED: 'A resource failed to apply.',
  STEMS_APPLY_ROLLED_BACK: 'An apply failed and every change it made was restored.',
  STEMS_APPLY_SYMLINK: 'A managed path (or one of its parents) is a symlink the agent refuses to follow.',
  STEMS_APPLY_UNIT_FAILED: 'A systemctl operation on a managed unit failed.',
  STEMS_APPLY_NO_SYSTEMD: 'The node has no running systemd, so unit resources cannot be applied.',
  STEMS_APPLY_EXEC_FAILED: 'An exec resource exited non-zero or timed out.',
  STEMS_APPLY_UNKNOWN_USER: 'An owner or group name does not exist on the node.',
  STEMS_APPLY_PACKAGE_FAILED: 'Installing or removing a package failed.',
  // cli
  STEMS_CLI_USAGE: 'The command line is not valid; see --help.',
  STEMS_INTERNAL: 'An unexpected internal error; please report it with the log.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface StemsErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
  /** HTTP status when the error leaves the hub API. */
  statusCode?: number;
  /** Extra machine-readable context (file, line, col, resource id, …). */
  details?: Record<string, unknown>;
}

export interface StemsErrorJSON {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export class StemsError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly statusCode: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: StemsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StemsError';
    this.code = code;
    this.hint = options.hint;
    this.statusCode = options.statusCode;
    this.details = options.details;
  }

  toJSON(): StemsErrorJSON {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isStemsError(err: unknown, code?: ErrorCode): err is StemsError {
  return err instanceof StemsError && (code === undefined || err.code === code);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Normalizes anything thrown into a StemsError at a boundary. */
export function toStemsError(err: unknown, fallback: ErrorCode = 'STEMS_INTERNAL'): StemsError {
  if (err instanceof StemsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StemsError(fallback, message, { cause: err });
}

/** Node's errno code of a caught fs error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}
