import fs from 'node:fs';
import { errnoCode, StemsError } from '@stems/shared';

interface Table {
  byName: Map<string, number>;
  byId: Map<number, string>;
}

function parseTable(text: string): Table {
  const byName = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, , id] = line.split(':');
    const num = Number(id);
    if (!name || id === undefined || id === '' || !Number.isInteger(num)) continue;
    byName.set(name, num);
    if (!byId.has(num)) byId.set(num, name);
  }
  return { byName, byId };
}

function readTable(paths: string[]): Table {
  for (const path of paths) {
    try {
      return parseTable(fs.readFileSync(path, 'utf8'));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
  return { byName: new Map(), byId: new Map() };
}

/**
 * Owner and group names of the node, from `<root>/etc/passwd` and
 * `<root>/etc/group`. When the root has none (a bare test root), the host's
 * files are used: the ids written are host ids anyway. Read lazily, once.
 */
export class Accounts {
  private users: Table | undefined;
  private groups: Table | undefined;

  constructor(private readonly root: string) {}

  uid(name: string): number {
    this.users ??= readTable(this.candidates('passwd'));
    return lookup(this.users, name, 'user');
  }

  gid(name: string): number {
    this.groups ??= readTable(this.candidates('group'));
    return lookup(this.groups, name, 'group');
  }

  /** The name of a uid for messages ("daemon"), or the number when unknown. */
  userName(uid: number): string {
    this.users ??= readTable(this.candidates('passwd'));
    return this.users.byId.get(uid) ?? String(uid);
  }

  groupName(gid: number): string {
    this.groups ??= readTable(this.candidates('group'));
    return this.groups.byId.get(gid) ?? String(gid);
  }

  private candidates(file: 'passwd' | 'group'): string[] {
    return this.root === '' ? [`/etc/${file}`] : [`${this.root}/etc/${file}`, `/etc/${file}`];
  }
}

function lookup(table: Table, name: string, what: 'user' | 'group'): number {
  if (/^\d+$/.test(name)) return Number(name);
  const id = table.byName.get(name);
  if (id === undefined) {
    throw new StemsError('STEMS_APPLY_UNKNOWN_USER', `Unknown ${what} "${name}" on this node`, {
      hint: `Create the ${what} first (for instance with an exec or package resource declared earlier), or use a numeric id.`,
      details: { [what]: name },
    });
  }
  return id;
}
