import { hostname } from 'node:os';
import { Facts } from '@stems/shared';
import type { Logger } from 'pino';
import { readCustomFacts } from './custom.js';

export interface GatherOptions {
  /** Folder of custom JSON/YAML facts files. */
  factsDir: string;
  log: Logger;
}

type Si = typeof import('systeminformation');

// A systeminformation call that fails (missing tool, odd kernel, container)
// yields the fallback: absent hardware is an empty list, never an error.
async function safe<T>(what: string, call: () => Promise<T>, fallback: T, log: Logger): Promise<T> {
  try {
    const value = await call();
    return value ?? fallback;
  } catch (err) {
    log.warn({ err, what }, 'fact gathering call failed; using a default');
    return fallback;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const int = (v: unknown): number => Math.floor(num(v));

/**
 * Gathers this node's facts (DESIGN §4) with systeminformation and normalises
 * them to the shared Facts schema. Slow on real hardware (seconds), so callers
 * cache the result (see facts/cache.ts). systeminformation is imported here,
 * lazily, to keep commands that never gather light to start.
 */
export async function gatherFacts(opts: GatherOptions): Promise<Facts> {
  const { log } = opts;
  const si: Si = (await import('systeminformation')).default;
  const [osInfo, cpu, mem, disks, fsSize, nets, defaultIface, graphics, system, custom] = await Promise.all([
    safe('osInfo', () => si.osInfo(), undefined, log),
    safe('cpu', () => si.cpu(), undefined, log),
    safe('mem', () => si.mem(), undefined, log),
    safe('diskLayout', () => si.diskLayout(), [], log),
    safe('fsSize', () => si.fsSize(), [], log),
    safe('networkInterfaces', async () => [await si.networkInterfaces()].flat(), [], log),
    safe('networkInterfaceDefault', () => si.networkInterfaceDefault(), '', log),
    safe('graphics', () => si.graphics(), undefined, log),
    safe('system', () => si.system(), undefined, log),
    readCustomFacts(opts.factsDir, log),
  ]);
  const short = hostname().split('.')[0] ?? hostname();
  const network = nets
    .filter((n) => !n.internal && n.iface !== 'lo')
    .map((n) => ({ iface: str(n.iface), ipv4: str(n.ip4), mac: str(n.mac) }));
  const primary = network.find((n) => n.iface === defaultIface && n.ipv4) ?? network.find((n) => n.ipv4);
  return Facts.parse({
    hostname: short,
    fqdn: str(osInfo?.fqdn) || hostname(),
    os: {
      distro: str(osInfo?.distro),
      release: str(osInfo?.release),
      codename: str(osInfo?.codename),
      kernel: str(osInfo?.kernel),
      arch: str(osInfo?.arch) || process.arch,
    },
    cpu: {
      brand: [str(cpu?.manufacturer), str(cpu?.brand)].filter(Boolean).join(' '),
      cores: int(cpu?.cores),
      physicalCores: int(cpu?.physicalCores),
    },
    memory: { totalBytes: num(mem?.total) },
    disks: disks.map((d) => ({ device: str(d.device), type: str(d.type), sizeBytes: num(d.size), model: str(d.name) })),
    filesystems: fsSize.map((f) => ({
      mount: str(f.mount),
      fs: str(f.fs),
      type: str(f.type),
      sizeBytes: num(f.size),
      usedBytes: num(f.used),
    })),
    network,
    primaryIp: primary?.ipv4 ?? '',
    gpus: (graphics?.controllers ?? []).map((g) => ({ vendor: str(g.vendor), model: str(g.model), vramMiB: num(g.vram) })),
    virtual: system?.virtual === true,
    custom,
  });
}
