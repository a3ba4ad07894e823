import type { BundlePayload, Facts } from '@stems/shared';
import type { Logger } from 'pino';
import type { Ctx } from '../resources/types.js';
import { Accounts } from '../system/accounts.js';
import { normalizeRoot, SafeFs } from '../system/safe-fs.js';
import type { Systemd } from '../system/systemd.js';
import type { Journal } from './journal.js';
import type { RenderedDigests } from './rendered.js';

export interface EngineOptions {
  /** Root prefix under which every managed path lives ('' or '/' = the real root). DESIGN §3 --root. */
  root: string;
  /** The node's facts; templates and `when` conditions see them as `facts.…`. */
  facts: Facts | null;
  systemd: Systemd;
  log: Logger;
  /** Digests of an earlier render of this bundle with these facts: file contents are compared without rendering. */
  rendered?: RenderedDigests | undefined;
}

export function createContext(payload: BundlePayload, opts: EngineOptions, journal?: Journal): Ctx {
  const root = normalizeRoot(opts.root);
  let up: Promise<boolean> | undefined;
  return {
    fs: new SafeFs(root),
    accounts: new Accounts(root),
    systemd: opts.systemd,
    systemdUp: () => {
      up ??= opts.systemd.available();
      return up;
    },
    realRoot: root === '',
    source: payload,
    facts: opts.facts,
    log: opts.log,
    journal,
    rendered: opts.rendered,
  };
}
